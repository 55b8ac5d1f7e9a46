/// Entry points for the fuzz harness (Fuzz/Targets) into the credential classifier, internal
/// to the scanner. An SPI rather than `@testable import`, because a release build compiles
/// the harness too and allows no testable import.
@_spi(Fuzzing) public enum ComplianceFuzzing {
    /// Classifies one credential value of the planner's users table, as a scan does.
    public static func classifyCredential(_ bytes: [UInt8]) { bytes.withUnsafeBytes { _ = PlannerAccessTables.classify($0) } }
}
