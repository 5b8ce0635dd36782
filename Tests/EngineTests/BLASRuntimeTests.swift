import Testing
@testable import Engine

/// The decision behind the OpenBLAS core fix-up (the re-exec itself is exercised by every tool run).
@Suite struct BLASRuntimeTests {
    let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"]

    @Test func switchesAFallbackCoreOnACapableCPU() {
        #expect(BLASRuntime.recommendedSwitch(environment: [:], currentCore: "Prescott", flags: avx512) == "SkylakeX")
        #expect(BLASRuntime.recommendedSwitch(environment: [:], currentCore: "Prescott", flags: ["avx2", "fma"]) == "Haswell")
    }

    @Test func respectsTheUserAndGoodDetections() {
        #expect(BLASRuntime.recommendedSwitch(environment: ["OPENBLAS_CORETYPE": "Haswell"], currentCore: "Prescott", flags: avx512) == nil)
        #expect(BLASRuntime.recommendedSwitch(environment: [:], currentCore: "SkylakeX", flags: avx512) == nil)
        #expect(BLASRuntime.recommendedSwitch(environment: [:], currentCore: "Prescott", flags: ["sse3"]) == nil)
    }

    @Test func reportsTheLoadedLibrary() {
        #expect(!BLASRuntime.coreName.isEmpty)
        #expect(BLASRuntime.threadCount >= 1)
    }
}
