/// Entry points for the fuzz harness (Fuzz/Targets) into readers internal to the audit
/// module. An SPI rather than `@testable import`, because a release build compiles the
/// harness too and allows no testable import.
@_spi(Fuzzing) public enum AuditFuzzing {
    /// Parses an activity seal file; true if it was one.
    public static func parseSeal(_ bytes: [UInt8]) -> Bool { ActivitySealer.parse(bytes) != nil }
}
