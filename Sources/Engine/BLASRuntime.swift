import CCBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Facts about the OpenBLAS the process runs on, and the decision of which core it should use.
///
/// Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) does not know recent Xeons and falls back to its "Prescott" SSE3
/// kernels, about 5× below the machine's sgemm peak. The core is chosen when the library loads, from
/// `OPENBLAS_CORETYPE`, so a process has to set the variable before OpenBLAS is loaded: the tools do that by
/// re-executing themselves once (see `ToolSupport.OpenBLASSetup`). A user's own `OPENBLAS_CORETYPE` always wins.
public enum BLASRuntime {
    /// The kernel family OpenBLAS selected ("SkylakeX", "Haswell", "Prescott", …).
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS build configuration string.
    public static var configuration: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }

    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    public static func setThreadCount(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// Cores OpenBLAS falls back to when it does not recognise the CPU; none of them uses AVX2 or AVX-512.
    static let fallbackCores: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom",
                                             "katmai", "coppermine", "northwood", "banias", "unknown"]

    /// CPU feature flags from /proc/cpuinfo (empty where it cannot be read).
    public static func cpuFlags() -> Set<String> {
        guard let f = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var cap = 0
        defer { free(line) }
        while getline(&line, &cap, f) > 0 {
            let s = String(cString: line!)
            if s.hasPrefix("flags") {
                let parts = s.split(separator: ":", maxSplits: 1)
                if parts.count == 2 { return Set(parts[1].split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)) }
            }
        }
        return []
    }

    /// The OpenBLAS core this CPU should use, from its flags: SkylakeX for AVX-512 (Cooperlake with BF16),
    /// Haswell for AVX2 + FMA, nil when the autodetected core is as good as it gets.
    public static func preferredCore(flags: Set<String>) -> String? {
        if flags.contains("avx512f") && flags.contains("avx512bw") && flags.contains("avx512vl") && flags.contains("avx512dq") {
            return "SkylakeX"
        }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// The core to switch to, or nil when no switch is needed: OpenBLAS picked a weak fallback core although
    /// the CPU can do better, and the user did not choose a core.
    public static func recommendedSwitch(environment: [String: String], currentCore: String, flags: Set<String>) -> String? {
        if environment["OPENBLAS_CORETYPE"] != nil { return nil }
        guard fallbackCores.contains(currentCore.lowercased()) else { return nil }
        return preferredCore(flags: flags)
    }
}
