import Engine
#if canImport(Glibc)
import Glibc
#endif

/// Makes every tool run OpenBLAS on the right kernels without the user knowing about `OPENBLAS_CORETYPE`.
///
/// If OpenBLAS loaded with a fallback core while the CPU supports AVX2/AVX-512, the tool sets
/// `OPENBLAS_CORETYPE` and re-executes itself once (`GANKIT_OPENBLAS_REEXEC` marks the second run so it can
/// never loop). Override: set `OPENBLAS_CORETYPE` yourself, or `GANKIT_OPENBLAS_AUTO=0` to keep what loaded.
public enum OpenBLASSetup {
    /// Where the core came from, for `--verbose`.
    public nonisolated(unsafe) static var origin = "autodetected by OpenBLAS"

    public static func ensureFastCore() {
        let env = ProcessInfoLite.environment
        if env["GANKIT_OPENBLAS_REEXEC"] != nil {
            origin = "set by gan-kit (OpenBLAS autodetected \(env["GANKIT_OPENBLAS_REEXEC"]!))"
            return
        }
        if env["OPENBLAS_CORETYPE"] != nil {
            origin = "set by OPENBLAS_CORETYPE in the environment"
            return
        }
        if env["GANKIT_OPENBLAS_AUTO"] == "0" { return }
        let current = BLASRuntime.coreName
        guard let core = BLASRuntime.recommendedSwitch(environment: env, currentCore: current, flags: BLASRuntime.cpuFlags()) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("GANKIT_OPENBLAS_REEXEC", current, 1)
        let args = CommandLine.arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cargs.append(nil)
        execv("/proc/self/exe", &cargs)
        // execv only returns on failure: carry on with the slow core rather than fail.
        unsetenv("GANKIT_OPENBLAS_REEXEC")
        origin = "autodetected by OpenBLAS (re-exec to \(core) failed)"
    }

    /// One line for `--verbose`.
    public static var summary: String {
        "OpenBLAS core \(BLASRuntime.coreName), \(BLASRuntime.threadCount) threads (\(origin))"
    }
}

/// The process environment without Foundation.
enum ProcessInfoLite {
    static var environment: [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }
}
