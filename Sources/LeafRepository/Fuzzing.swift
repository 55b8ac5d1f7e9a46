import LeafSodium

/// Entry points for the fuzz harness (Fuzz/Targets) into decoders that stay internal to
/// the repository format. An SPI rather than `@testable import`, because a release build
/// compiles every target, the harness included, and allows no testable import.
@_spi(Fuzzing) public enum RepositoryFuzzing {
    /// Opens `bytes` as a sealed key set under `key`, then reads every entry of `bytes`
    /// taken as an opened set's plaintext.
    public static func keySet(_ bytes: [UInt8], key: SecureBytes) {
        _ = try? KeySet.open(bytes, id: ObjectID([UInt8](repeating: 1, count: 16)), wrapping: { _ in key })
        var copy = bytes
        guard let plain = try? SecureBytes(consuming: &copy) else { return }
        for (_, offset) in KeySet.entries(plain) { _ = try? KeySet.dataKey(in: plain, at: offset) }
    }
}
