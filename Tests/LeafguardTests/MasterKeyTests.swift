import Foundation
import LeafKeys
import LeafSodium
import LeafTestSupport
import Testing

@Suite struct MasterKeyTests {
    @Test func rawAndBase64KeyFilesAndTheEnvironmentGiveTheSameKey() throws {
        let dir = TemporaryDirectory()
        let bytes = Sodium.randomBytes(32)
        let b64 = Data(bytes).base64EncodedString()
        FileManager.default.createFile(atPath: dir.file("raw.key"), contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(atPath: dir.file("b64.key"), contents: Data((b64 + "\n").utf8), attributes: [.posixPermissions: 0o600])
        let raw = try MasterKeySource.file(path: dir.file("raw.key")).load()
        let text = try MasterKeySource.file(path: dir.file("b64.key")).load()
        let env = try MasterKeySource.environment(variable: "K").load(environment: ["K": b64])
        #expect(raw.secret.withUnsafeBytes { Array($0) } == bytes)
        #expect(raw.secret.isEqual(to: text.secret) && raw.secret.isEqual(to: env.secret))
    }

    @Test(arguments: ["too short", String(repeating: "A", count: 44), "!!!!" + String(repeating: "A", count: 39) + "=", ""])
    func malformedKeysAreRefusedWithoutEchoingThem(_ text: String) throws {
        #expect {
            _ = try MasterKeySource.environment(variable: "K").load(environment: ["K": text])
        } throws: { error in
            let d = "\(error)"
            return (d.contains("does not hold a 32-byte key") || d.contains("is not set")) && (text.isEmpty || !d.contains(text))
        }
    }

    @Test func keyFilesReadableByOthersAreRefused() throws {
        let dir = TemporaryDirectory()
        FileManager.default.createFile(atPath: dir.file("k"), contents: Data(Sodium.randomBytes(32)), attributes: [.posixPermissions: 0o640])
        #expect { _ = try MasterKeySource.file(path: dir.file("k")).load() } throws: { "\($0)".contains("chmod 600") }
    }

    @Test func aNewKeyFileIsPrivateAndNeverReplaced() throws {
        let dir = TemporaryDirectory()
        try MasterKeySource.createKeyFile(at: dir.file("keys/new.key"))
        let attrs = try FileManager.default.attributesOfItem(atPath: dir.file("keys/new.key"))
        #expect(attrs[.posixPermissions] as? Int == 0o600 && attrs[.size] as? Int == 32)
        let before = FileManager.default.contents(atPath: dir.file("keys/new.key"))
        #expect(throws: KeyError.self) { try MasterKeySource.createKeyFile(at: dir.file("keys/new.key")) }
        #expect(FileManager.default.contents(atPath: dir.file("keys/new.key")) == before)
    }
}
