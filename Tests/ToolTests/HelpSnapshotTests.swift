import Foundation
import Testing

/// Help text is user interface: a change to it must be deliberate (update the snapshot with the new text).
@Suite struct HelpSnapshotTests {
    static var snapshots: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots").path
    }

    @Test func ganConvertTopLevelHelp() throws {
        let r = try ToolProcess.run("gan-convert", ["--help"])
        #expect(r.status == 0)
        let expected = try String(contentsOfFile: Self.snapshots + "/gan-convert-help.txt", encoding: .utf8)
        #expect(r.stdout == expected)
    }
}
