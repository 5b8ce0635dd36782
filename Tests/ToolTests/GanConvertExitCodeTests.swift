import Foundation
import Testing

/// The exit-code contract of gan-convert: 0 ok, 1 a check failed, 2 bad input or usage with one clear line.
@Suite(.serialized) struct GanConvertExitCodeTests {
    let npz = ToolProcess.fixtures + "/store/stored.npz"

    @Test func inspectListsTensorsAndJSONParses() throws {
        let r = try ToolProcess.run("gan-convert", ["inspect", npz])
        #expect(r.status == 0)
        #expect(r.stdout.contains("format: npz"))
        #expect(r.stdout.contains("labels"))
        let j = try ToolProcess.run("gan-convert", ["inspect", npz, "--json"])
        #expect(j.status == 0)
        let obj = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        let tensors = obj?["tensors"] as? [[String: Any]]
        #expect(tensors?.count == 2)
        #expect(tensors?.first?["name"] as? String == "z")
        #expect(tensors?.first?["shape"] as? [Int] == [3, 4])
    }

    @Test func missingFileIsExitTwoWithOneLineNamingIt() throws {
        let r = try ToolProcess.run("gan-convert", ["inspect", "/nonexistent/model.pt"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("/nonexistent/model.pt"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func badUsageIsExitTwo() throws {
        #expect(try ToolProcess.run("gan-convert", ["frobnicate"]).status == 2)
        #expect(try ToolProcess.run("gan-convert", ["convert", npz]).status == 2)  // missing -o
        #expect(try ToolProcess.run("gan-convert", ["--help"]).status == 0)
    }

    @Test func convertIsAtomicAndNeverOverwritesWithoutForceOrTheInput() throws {
        let dir = ToolProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/o.safetensors"
        #expect(try ToolProcess.run("gan-convert", ["convert", npz, "-o", out]).status == 0)
        let first = try Data(contentsOf: URL(fileURLWithPath: out))
        let again = try ToolProcess.run("gan-convert", ["convert", npz, "-o", out])
        #expect(again.status == 2)
        #expect(again.stderr.contains("--force"))
        #expect(try ToolProcess.run("gan-convert", ["convert", npz, "-o", out, "--force"]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == first)
        // The input is never a valid output, even with --force.
        let copy = dir + "/in.npz"
        try FileManager.default.copyItem(atPath: npz, toPath: copy)
        let before = try Data(contentsOf: URL(fileURLWithPath: copy))
        #expect(try ToolProcess.run("gan-convert", ["convert", copy, "-o", copy, "--force"]).status == 2)
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == before)
        // No temporary files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["in.npz", "o.safetensors"])
    }

    @Test func malformedInputIsExitTwo() throws {
        let dir = ToolProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bad = dir + "/bad.safetensors"
        var bytes = withUnsafeBytes(of: UInt64(60).littleEndian) { Array($0) }
        bytes += Array(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#.utf8).prefix(60)
        try Data(bytes).write(to: URL(fileURLWithPath: bad))
        let r = try ToolProcess.run("gan-convert", ["inspect", bad])
        #expect(r.status == 2)
        #expect(r.stderr.contains(bad))
        let out = try ToolProcess.run("gan-convert", ["convert", bad, "-o", dir + "/x.safetensors"])
        #expect(out.status == 2)
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.safetensors"))
    }
}
