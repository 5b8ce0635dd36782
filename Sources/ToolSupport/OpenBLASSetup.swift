import Engine
#if canImport(Glibc)
import Glibc
#endif

/// Makes every tool run OpenBLAS on the right kernels without the user knowing about `OPENBLAS_CORETYPE`, and
/// keeps OpenBLAS' idle threads from spinning.
///
/// Both settings are read once, when OpenBLAS loads, so a process must have them in its environment from the
/// start: the tool sets what is missing and re-executes itself once (`GANKIT_OPENBLAS_REEXEC` marks the second
/// run so it can never loop).
/// - If OpenBLAS loaded with a fallback core while the CPU supports AVX2/AVX-512, `OPENBLAS_CORETYPE` is set.
/// - `OPENBLAS_THREAD_TIMEOUT=4`: after a threaded call OpenBLAS' workers otherwise spin (yielding) for about
///   2²⁸ cycles, ~75 ms of CPU per call here, competing with the engine's own loops; with it they sleep at once
///   (StyleGAN2-256: 35% less CPU, measured 222–228 ms against 281–341 ms per image).
///
/// Override: set either variable yourself, or `GANKIT_OPENBLAS_AUTO=0` to keep what loaded.
public enum OpenBLASSetup {
    /// Where the core came from, for `--verbose`.
    public nonisolated(unsafe) static var origin = "autodetected by OpenBLAS"

    /// The spin timeout the tools set (OpenBLAS' minimum: 2⁴ cycles).
    static let threadTimeout = "4"

    public static func ensureFastCore() {
        let env = ProcessInfoLite.environment
        if let first = env["GANKIT_OPENBLAS_REEXEC"] {
            if env["OPENBLAS_CORETYPE"] != nil {
                origin = first == "-" ? "set by OPENBLAS_CORETYPE in the environment" : "set by gan-kit (OpenBLAS autodetected \(first))"
            }
            return
        }
        // A user's OPENBLAS_CORETYPE is reported as theirs even when the automatic setup is switched off.
        let userCore = env["OPENBLAS_CORETYPE"] != nil
        if userCore { origin = "set by OPENBLAS_CORETYPE in the environment" }
        if env["GANKIT_OPENBLAS_AUTO"] == "0" { return }
        let current = BLASRuntime.coreName
        let core = userCore ? nil : BLASRuntime.recommendedSwitch(environment: env, currentCore: current, flags: BLASRuntime.cpuFlags())
        let needTimeout = env["OPENBLAS_THREAD_TIMEOUT"] == nil
        if core == nil && !needTimeout { return }
        if let core { setenv("OPENBLAS_CORETYPE", core, 1) }
        if needTimeout { setenv("OPENBLAS_THREAD_TIMEOUT", threadTimeout, 1) }
        setenv("GANKIT_OPENBLAS_REEXEC", core == nil ? "-" : current, 1)
        let args = CommandLine.arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cargs.append(nil)
        execv("/proc/self/exe", &cargs)
        // execv only returns on failure: carry on with what loaded rather than fail.
        unsetenv("GANKIT_OPENBLAS_REEXEC")
        if let core {
            unsetenv("OPENBLAS_CORETYPE")
            origin = "autodetected by OpenBLAS (re-exec to \(core) failed)"
        }
        if needTimeout { unsetenv("OPENBLAS_THREAD_TIMEOUT") }
    }

    /// One line for `--verbose`.
    public static var summary: String {
        let timeout = ProcessInfoLite.environment["OPENBLAS_THREAD_TIMEOUT"].map { ", idle-thread spin 2^\($0) cycles" } ?? ""
        return "OpenBLAS core \(BLASRuntime.coreName), \(BLASRuntime.threadCount) threads (\(origin))\(timeout)"
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
