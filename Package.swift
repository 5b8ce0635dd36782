// swift-tools-version: 6.1
import PackageDescription

// Data flows one way: readers (TensorStore, Checkpoints) → mappers/models (Engine, Models) → Verification → tools.
let package = Package(
    name: "GANKit",
    products: [
        .library(name: "GANKit", targets: ["GANKit"]),
        .executable(name: "gan-convert", targets: ["gan-convert"]),
        .executable(name: "gan-verify", targets: ["gan-verify"]),
        .executable(name: "gan-sample", targets: ["gan-sample"]),
        .executable(name: "gan-bench", targets: ["gan-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // Tiny system-library shims; flags come from pkg-config, nothing unsafe.
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZip", pkgConfig: "libzip", providers: [.apt(["libzip-dev"])]),
        .systemLibrary(name: "CCBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CSystemShims"),

        .target(name: "TensorStore", dependencies: [
            "CZip", "CSystemShims", .product(name: "OrderedCollections", package: "swift-collections"),
        ]),
        .target(name: "Checkpoints", dependencies: [
            "TensorStore", "CHDF5", "CZip", .product(name: "OrderedCollections", package: "swift-collections"),
        ]),
        // Vector FIR kernels for the engine (per-function AVX-512/AVX2 target attributes, runtime dispatch).
        .target(name: "CEngineKernels"),
        // The engine's worker threads (spin briefly between loops, then sleep).
        .target(name: "CWorkerPool"),
        .target(name: "Engine", dependencies: ["TensorStore", "CCBLAS", "CEngineKernels", "CWorkerPool"]),
        .target(name: "Models", dependencies: ["Engine", "Checkpoints", "TensorStore"]),
        .target(name: "Verification", dependencies: ["Models", "TensorStore"]),
        .target(name: "GANKit", dependencies: ["TensorStore", "Checkpoints", "Engine", "Models", "Verification", "CPNG"]),
        .target(name: "ToolSupport", dependencies: [
            "GANKit", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "gan-convert", dependencies: ["ToolSupport", "GANKit",
            .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "gan-verify", dependencies: ["ToolSupport", "GANKit",
            .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "gan-sample", dependencies: ["ToolSupport", "GANKit",
            .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "gan-bench", dependencies: ["ToolSupport", "GANKit",
            .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        .testTarget(name: "TensorStoreTests", dependencies: ["TensorStore"], resources: []),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "TensorStore"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TensorStore"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Verification", "GANKit"]),
        .testTarget(name: "ToolTests", dependencies: ["ToolSupport", "GANKit", "gan-convert"], exclude: ["Snapshots"]),
    ],
    swiftLanguageModes: [.v6]
)
