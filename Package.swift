// swift-tools-version:6.1
import PackageDescription

// C libraries come from the system (Debian -dev packages); each is wrapped once
// by a Swift module, and no other module imports the C module.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "leafguard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "leafguard", targets: ["leafguard"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // One Swift wrapper per C library.
        .target(name: "LeafSodium", dependencies: ["CSodium"], swiftSettings: swiftSettings),
        .target(name: "LeafSQLite", dependencies: ["CSQLite"], swiftSettings: swiftSettings),
        .target(name: "LeafArchive", dependencies: ["CArchive"], swiftSettings: swiftSettings),
        .target(name: "LeafErasure", dependencies: ["CISAL"], swiftSettings: swiftSettings),
        .target(name: "LeafDigest", dependencies: ["COpenSSL"], swiftSettings: swiftSettings),

        // Domain modules, one job each.
        .target(name: "LeafTime", swiftSettings: swiftSettings),
        .target(name: "LeafFiles", swiftSettings: swiftSettings),
        .target(name: "LeafConcurrency", swiftSettings: swiftSettings),
        .target(name: "LeafCron", swiftSettings: swiftSettings),
        // The state folder's layout and the run history as readers see it.
        .target(name: "LeafState", dependencies: ["LeafSQLite"], swiftSettings: swiftSettings),
        .target(
            name: "LeafConfig",
            dependencies: [
                "LeafCron", "LeafCompliance", "LeafTime", "LeafConcurrency", "LeafFiles", "LeafState", .product(name: "Yams", package: "Yams"),
            ], swiftSettings: swiftSettings),
        .target(name: "LeafKeys", dependencies: ["LeafSodium", "LeafTime", "LeafConcurrency", "LeafState"], swiftSettings: swiftSettings),
        .target(name: "LeafStorage", dependencies: ["LeafConcurrency"], swiftSettings: swiftSettings),
        .target(
            name: "LeafRepository",
            dependencies: [
                "LeafSodium", "LeafErasure", "LeafStorage", "LeafKeys", "LeafArchive", "LeafTime", "LeafConcurrency", "LeafFiles",
            ], swiftSettings: swiftSettings),
        .target(
            name: "LeafBackup",
            dependencies: [
                "LeafRepository", "LeafArchive", "LeafSQLite", "LeafDigest", "LeafConcurrency",
            ], swiftSettings: swiftSettings),
        .target(name: "LeafCompliance", dependencies: ["LeafSQLite", "LeafTime", "LeafFiles"], swiftSettings: swiftSettings),
        .target(
            name: "LeafDemo",
            dependencies: [
                "LeafSQLite", "LeafSodium", "LeafDigest", "LeafKeys",
            ], swiftSettings: swiftSettings),
        .target(name: "LeafS3", dependencies: ["LeafStorage", "LeafDigest", "LeafSodium", "LeafConcurrency"], swiftSettings: swiftSettings),
        .target(
            name: "LeafDeployment",
            dependencies: [
                "LeafConfig", "LeafKeys", "LeafStorage", "LeafS3", "LeafRepository", "LeafAudit", "LeafSodium", "LeafTime", "LeafConcurrency",
                "LeafState", .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: swiftSettings),
        .target(
            name: "LeafReports",
            dependencies: [
                "LeafDeployment", "LeafConfig", "LeafKeys", "LeafRepository", "LeafCompliance", "LeafAudit", "LeafDigest", "LeafFiles", "LeafSQLite",
                "LeafTime",
                "LeafConcurrency",
                .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: swiftSettings),
        .target(
            name: "LeafJobs",
            dependencies: [
                "LeafDeployment", "LeafReports", "LeafConfig", "LeafBackup", "LeafKeys", "LeafRepository", "LeafCompliance", "LeafAudit",
                "LeafConcurrency",
                .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: swiftSettings),
        .target(
            name: "LeafAudit",
            dependencies: [
                "LeafSodium", "LeafDigest", "LeafSQLite", "LeafKeys", "LeafState",
            ], swiftSettings: swiftSettings),
        .target(
            name: "LeafScheduler",
            dependencies: [
                "LeafConfig", "LeafCron", "LeafSQLite", "LeafJobs", "LeafDeployment", "LeafAudit", "LeafTime", "LeafConcurrency", "LeafState",
                .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: swiftSettings),
        .executableTarget(
            name: "leafguard",
            dependencies: [
                "LeafJobs", "LeafDeployment", "LeafReports", "LeafScheduler", "LeafAudit", "LeafConfig", "LeafDemo", "LeafCron", "LeafBackup", "LeafCompliance",
                "LeafKeys", "LeafRepository", "LeafFiles",
                "LeafTime", "LeafConcurrency",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: swiftSettings),

        // Shared test helpers: temporary folders, child processes, in-memory and fault-injecting
        // stores, and deployments on disk (Deployments.swift).
        .target(
            name: "LeafTestSupport", dependencies: ["LeafStorage", "LeafConcurrency", "LeafConfig", "LeafKeys", "LeafDemo", "LeafDigest"],
            path: "Tests/LeafTestSupport",
            swiftSettings: swiftSettings),
        // Fuzz targets (Fuzz/Targets): a replay tool in ordinary builds, a libFuzzer binary
        // when `make fuzz` builds it with -sanitize=fuzzer,address -D LEAFGUARD_LIBFUZZER.
        .systemLibrary(name: "CFuzz", path: "Fuzz/CFuzz"),
        .executableTarget(
            name: "leafguard-fuzz",
            dependencies: [
                "CFuzz", "LeafArchive", "LeafAudit", "LeafBackup", "LeafCompliance", "LeafConfig", "LeafCron",
                "LeafJobs", "LeafDeployment", "LeafKeys", "LeafRepository", "LeafS3", "LeafSodium",
            ], path: "Fuzz/Targets", swiftSettings: swiftSettings),
        .testTarget(
            name: "LeafguardTests",
            dependencies: [
                "LeafSodium", "LeafSQLite", "LeafArchive", "LeafErasure", "LeafDigest",
                "LeafCron", "LeafConfig", "LeafKeys", "LeafStorage", "LeafRepository",
                "LeafBackup", "LeafDemo", "LeafJobs", "LeafDeployment", "LeafReports", "LeafTestSupport", "LeafCompliance", "LeafScheduler", "LeafAudit",
                "LeafS3", "LeafTime",
                "LeafConcurrency",
                .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v6]
)
