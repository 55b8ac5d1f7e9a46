import Foundation
import LeafSodium
import Testing

@Suite struct SodiumTests {
    @Test(arguments: AEADAlgorithm.allCases.filter { $0 != .aes256gcm || Sodium.hasAESGCM })
    func sealedDataOpensOnlyWithTheSameKeyNonceAndAssociatedData(_ alg: AEADAlgorithm) throws {
        let key = try SecureBytes.random(count: 32)
        let nonce = Sodium.randomBytes(alg.nonceLength)
        let plain = Array("family will, page 1".utf8)
        let sealed = try AEAD.seal(plain, associatedData: [1, 2, 3], nonce: nonce, key: key, algorithm: alg)
        #expect(sealed.count == plain.count + 16)
        #expect(try AEAD.open(sealed, associatedData: [1, 2, 3], nonce: nonce, key: key, algorithm: alg) == plain)

        var flipped = sealed; flipped[0] ^= 1
        #expect(throws: SodiumError.authenticationFailed) { try AEAD.open(flipped, associatedData: [1, 2, 3], nonce: nonce, key: key, algorithm: alg) }
        #expect(throws: SodiumError.authenticationFailed) { try AEAD.open(sealed, associatedData: [1, 2, 4], nonce: nonce, key: key, algorithm: alg) }
        let other = try SecureBytes.random(count: 32)
        #expect(throws: SodiumError.authenticationFailed) { try AEAD.open(sealed, associatedData: [1, 2, 3], nonce: nonce, key: other, algorithm: alg) }
    }

    @Test func secretsPrintAsRedacted() throws {
        let key = try SecureBytes.random(count: 32)
        #expect("\(key)" == "<redacted>")
        #expect(String(reflecting: key) == "<redacted>")
    }

    @Test func consumingInitWipesTheSourceArray() throws {
        var bytes: [UInt8] = Array(repeating: 7, count: 32)
        let s = try SecureBytes(consuming: &bytes)
        #expect(bytes.allSatisfy { $0 == 0 })
        #expect(s.withUnsafeBytes { Array($0) } == Array(repeating: 7, count: 32))
    }

    @Test func kdfSubkeysAreDeterministicAndDifferByContextAndID() throws {
        let master = try SecureBytes.random(count: 32)
        let a = try KDF.derive(from: master, id: 1, context: "lgkwrap1")
        let b = try KDF.derive(from: master, id: 1, context: "lgkwrap1")
        let c = try KDF.derive(from: master, id: 2, context: "lgkwrap1")
        let d = try KDF.derive(from: master, id: 1, context: "lgblobid")
        #expect(a.isEqual(to: b))
        #expect(!a.isEqual(to: c))
        #expect(!a.isEqual(to: d))
        #expect(throws: SodiumError.self) { try KDF.derive(from: master, id: 1, context: "short") }
    }

    @Test func keyedHashDependsOnTheKey() throws {
        let k1 = try SecureBytes.random(count: 32)
        let k2 = try SecureBytes.random(count: 32)
        let data = Array("same content".utf8)
        #expect(KeyedHash.hash(data, key: k1) == KeyedHash.hash(data, key: k1))
        #expect(KeyedHash.hash(data, key: k1) != KeyedHash.hash(data, key: k2))
    }

    @Test func argon2idStringsVerifyWithLibsodium() throws {
        let pw = Array("correct horse battery".utf8)
        let phc = try PasswordHash.phcString(password: pw, salt: Sodium.randomBytes(16), opsLimit: 2, memLimitKiB: 19456)
        #expect(phc.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        #expect(PasswordHash.verify(phc: phc, password: pw))
        #expect(!PasswordHash.verify(phc: phc, password: Array("wrong".utf8)))
        let weak = try PasswordHash.phcString(password: pw, salt: Sodium.randomBytes(16), opsLimit: 3, memLimitKiB: 4096, variant: .argon2i)
        #expect(weak.hasPrefix("$argon2i$v=19$m=4096,t=3,p=1$"))
        #expect(PasswordHash.verify(phc: weak, password: pw))
    }
}
