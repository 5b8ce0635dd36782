#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on standard error. Silent when stderr is not a terminal or when disabled (`--json`).
public final class ProgressBar {
    /// What the counts are: bytes (shown as KB/MB) or items (shown as plain counts).
    public enum Units { case bytes, items }

    private let label: String
    private let enabled: Bool
    private let units: Units
    private var lastDrawn = -1

    public init(label: String, enabled: Bool = true, units: Units = .bytes) {
        self.label = label
        self.enabled = enabled && Terminal.stderrIsTTY
        self.units = units
    }

    /// Updates the bar; redraws only when the shown percentage changes.
    public func update(_ done: Int, of total: Int) {
        guard enabled, total > 0 else { return }
        let pct = min(100, done * 100 / total)
        guard pct != lastDrawn else { return }
        lastDrawn = pct
        let width = 30
        let filled = pct * width / 100
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let counts = units == .bytes ? "\(ByteFormat.string(done))/\(ByteFormat.string(total))" : "\(done)/\(total)"
        writeStandardError("\r\(label) \(bar) \(pct)% (\(counts))")
    }

    public func finish() {
        guard enabled, lastDrawn >= 0 else { return }
        writeStandardError("\r\u{1b}[2K")
    }
}

public enum ByteFormat {
    public static func string(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n)
        var u = 0
        while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
        if u == 0 { return "\(n) B" }
        let r = (v * 10).rounded() / 10
        return "\(r) \(units[u])"
    }
}
