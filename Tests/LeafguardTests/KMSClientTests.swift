import Foundation
import LeafSodium
import LeafTestSupport
import Testing

@testable import LeafS3

/// AWS KMS through leafguard's own SigV4 and JSON protocol (issue 31, point 1, first
/// increment: the client), against moto's KMS on loopback and side by side with boto3:
/// a data key leafguard makes, boto3 opens, and the other way round; a wrong encryption
/// context, a disabled key and an unknown key each fail naming the key and the operation.
@Suite struct KMSClientTests {
    func boto3(_ server: MotoServer, _ script: String) throws -> CommandOutput {
        let prelude = """
            import boto3, base64, sys
            kms = boto3.client("kms", endpoint_url="\(server.endpoint)", region_name="eu-west-1",
                               aws_access_key_id="k", aws_secret_access_key="s")

            """
        return try runCommand(MotoServer.python, ["-c", prelude + script])
    }

    func client(_ server: MotoServer) throws -> KMSClient {
        KMSClient(
            endpoint: KMSEndpoint(url: try #require(URL(string: server.endpoint)), region: "eu-west-1"),
            credentials: try AWSCredentials(accessKeyID: "leafguard", secretAccessKey: "leafguard-secret"))
    }

    @Test func aDataKeyRoundTripsWithBoto3AndItsContextBindsIt() throws {
        let server = try MotoServer()
        let made = try boto3(server, "k = kms.create_key()['KeyMetadata']['KeyId']; kms.create_alias(AliasName='alias/leafguard', TargetKeyId=k); print(k)")
        let keyID = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(made.status == 0 && !keyID.isEmpty, "\(made.all)")
        let kms = try client(server)
        let context = ["leafguard:repository": "5f2c9a1e", "leafguard:purpose": "keyring-key"]

        // leafguard makes a data key under the alias; boto3 opens it with the same context.
        let key = try kms.generateDataKey(keyID: "alias/leafguard", context: context)
        #expect(key.plaintext.count == 32 && !key.ciphertext.isEmpty && key.keyARN.contains(keyID))
        let opened = try boto3(
            server,
            """
            r = kms.decrypt(CiphertextBlob=base64.b64decode("\(Data(key.ciphertext).base64EncodedString())"),
                            EncryptionContext={"leafguard:repository": "5f2c9a1e", "leafguard:purpose": "keyring-key"})
            print(r["Plaintext"].hex())
            """)
        #expect(opened.status == 0, "\(opened.all)")
        let hex = key.plaintext.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
        #expect(opened.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == hex)
        #expect(try kms.decrypt(key.ciphertext, keyID: keyID, context: context).withUnsafeBytes { Array($0) } == key.plaintext.withUnsafeBytes { Array($0) })

        // And the other way round: boto3's data key, opened by leafguard.
        let theirs = try boto3(
            server,
            """
            r = kms.generate_data_key(KeyId="\(keyID)", KeySpec="AES_256", EncryptionContext={"a": "b"})
            print(base64.b64encode(r["CiphertextBlob"]).decode(), r["Plaintext"].hex())
            """)
        let parts = theirs.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let blob = try #require(Data(base64Encoded: parts.first ?? ""))
        let plain = try kms.decrypt([UInt8](blob), keyID: keyID, context: ["a": "b"])
        #expect(plain.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() } == parts.last)

        // The context binds the ciphertext: another repository's context opens nothing.
        let wrong = #expect(throws: KMSError.self) { try kms.decrypt(key.ciphertext, keyID: keyID, context: ["leafguard:repository": "other"]) }
        #expect(wrong?.type == "InvalidCiphertextException" && wrong?.description.contains("Decrypt with key \(keyID)") == true, "\(String(describing: wrong))")

        // Moving to another KMS key without the plaintext leaving KMS.
        let other = try boto3(server, "print(kms.create_key()['KeyMetadata']['KeyId'])").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let moved = try kms.reEncrypt(key.ciphertext, fromKey: keyID, toKey: other, context: context)
        #expect(try kms.decrypt(moved, keyID: other, context: context).withUnsafeBytes { Array($0) } == key.plaintext.withUnsafeBytes { Array($0) })
    }

    @Test func aDisabledOrUnknownKeyIsAClearError() throws {
        let server = try MotoServer()
        let kms = try client(server)
        let unknown = #expect(throws: KMSError.self) { _ = try kms.generateDataKey(keyID: "alias/nothing-here", context: [:]) }
        #expect(unknown?.type == "NotFoundException" && unknown?.description.contains("keys.master") == true, "\(String(describing: unknown))")
        // moto does not enforce a key's state: a loopback server answers as AWS documents a
        // disabled key (HTTP 400, `__type` with its namespace).
        let (stub, port) = try MotoServer.start { port in
            [
                "-c",
                """
                import http.server, sys
                class H(http.server.BaseHTTPRequestHandler):
                    def log_message(self, *a): pass
                    def do_POST(self):
                        self.rfile.read(int(self.headers.get("Content-Length", "0")))
                        body = b'{"__type":"com.amazonaws.kms#DisabledException","message":"arn:aws:kms:eu-west-1:1:key/abc is disabled."}'
                        self.send_response(400); self.send_header("Content-Type", "application/x-amz-json-1.1")
                        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
                http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
                """,
                String(port),
            ]
        }
        defer { kill(stub.processIdentifier, SIGKILL); stub.waitUntilExit() }
        let disabledClient = KMSClient(
            endpoint: KMSEndpoint(url: try #require(URL(string: "http://127.0.0.1:\(port)")), region: "eu-west-1"),
            credentials: try AWSCredentials(accessKeyID: "leafguard", secretAccessKey: "leafguard-secret"))
        let disabled = #expect(throws: KMSError.self) { _ = try disabledClient.generateDataKey(keyID: "alias/leafguard", context: [:]) }
        #expect(
            disabled?.type == "DisabledException" && disabled?.description.contains("GenerateDataKey with key alias/leafguard") == true
                && disabled?.description.contains("keys change-key") == true && disabled?.transient == false, "\(String(describing: disabled))")
        // No answer at all is a transient failure naming the operation, not a hang.
        server.stop()
        let gone = #expect(throws: KMSError.self) { _ = try kms.generateDataKey(keyID: "alias/leafguard", context: [:]) }
        #expect(gone?.transient == true && gone?.operation == "GenerateDataKey")
    }

    @Test func hostileRepliesAreErrorsNeverSecrets() {
        // What the fuzz target feeds, by hand: a reply that is not JSON, a short plaintext,
        // an error whose words try to forge a log line.
        #expect(throws: KMSError.self) { _ = try KMSClient.reply(200, Array("not json".utf8), operation: "Decrypt", key: "k") }
        var short = Array(#"{"Plaintext": "AAAA"}"#.utf8)
        #expect(KMSClient.takePlaintext(&short) == nil)
        // A good one is taken into wiped memory and blanked in the reply before the JSON is read.
        let key = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        var good = Array(#"{"KeyId": "k", "Plaintext": "\#(key)"}"#.utf8)
        let taken = KMSClient.takePlaintext(&good)
        #expect(taken?.withUnsafeBytes { Array($0) } == (0..<32).map { UInt8($0) })
        #expect(!String(decoding: good, as: UTF8.self).contains(key) && String(decoding: good, as: UTF8.self).contains(#""KeyId": "k""#))
        // JSON may escape '/' as '\/' (a key of 0xFF bytes is all slashes in base64).
        let slashes = Data(repeating: 0xFF, count: 32).base64EncodedString().replacingOccurrences(of: "/", with: "\\/")
        var escaped = Array(#"{"Plaintext":"\#(slashes)"}"#.utf8)
        #expect(KMSClient.takePlaintext(&escaped)?.withUnsafeBytes { Array($0) } == [UInt8](repeating: 0xFF, count: 32))
        let forged = #expect(throws: KMSError.self) {
            _ = try KMSClient.reply(400, Array(#"{"__type": "X\ninjected", "message": "a\nb"}"#.utf8), operation: "Decrypt", key: "k")
        }
        #expect(forged?.description.contains("\n") == false)
    }
}

/// `keys.master: aws-kms:KEY` (issue 31, point 1, second increment): the keyring key is a
/// KMS data key kept only as KMS's ciphertext in the keyring, so the host stores no master
/// key at rest and a new host needs only leafguard.yml and KMS permission.
@Suite struct KMSMasterKeyTests {
    @Test func aDeploymentUnderKMSRestoresOnANewHostWithOnlyItsConfig() throws {
        let server = try MotoServer()
        let made = try KMSClientTests().boto3(
            server, "k = kms.create_key()['KeyMetadata']['KeyId']; kms.create_alias(AliasName='alias/leafguard', TargetKeyId=k); print(k)")
        #expect(made.status == 0, "\(made.all)")
        let d = try DeploymentFixture()
        let text = try String(contentsOfFile: d.config, encoding: .utf8)
        try d.dir.write(
            "leafguard.yml",
            text.replacingOccurrences(
                of: "master: file:keys/master.key",
                with: "master: aws-kms:alias/leafguard\n  kms: {region: eu-west-1, endpoint: \"\(server.endpoint)\"}"))
        try FileManager.default.removeItem(atPath: d.dir.file("keys"))
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        var env = ProcessInfo.processInfo.environment
        env["AWS_ACCESS_KEY_ID"] = "leafguard"
        env["AWS_SECRET_ACCESS_KEY"] = "leafguard-secret"
        let run = { (args: [String]) in try leafguard(args + ["--config", d.config], environment: env) }

        let backup = try run(["run", "nightly"])
        #expect(backup.status == 0, "\(backup.all)")
        // The keyring, in the state folder and every location, holds KMS's ciphertext; no key file anywhere.
        let ring = try String(contentsOfFile: d.dir.file("state/keys/keyring.json"), encoding: .utf8)
        #expect(ring.contains("\"kms\"") && ring.contains("\"ciphertext\""), "\(ring)")
        let region = try String(contentsOfFile: d.dir.file("regions/backup/loc3/keyring"), encoding: .utf8)
        #expect(region == ring)
        #expect(!FileManager.default.fileExists(atPath: d.dir.file("keys")))

        // A new host: the state folder is gone; leafguard.yml and KMS are enough.
        try FileManager.default.removeItem(atPath: d.dir.file("state"))
        let restore = try run(["restore", "latest", "--region", "backup", "--to", d.dir.file("restored")])
        #expect(restore.status == 0, "\(restore.all)")
        #expect(sameTree(d.dir.file("planner-data"), d.dir.file("restored")))
        #expect(try run(["verify", "--read-data"]).status == 0)

        // docs/recover.py restores without leafguard: KMS (through boto3) opens the keyring's ciphertext.
        var pyEnv = env
        pyEnv["AWS_ENDPOINT_URL_KMS"] = server.endpoint
        let byHand = try runCommand(
            MotoServer.python, [packageRoot + "/docs/recover.py", d.dir.file("regions/backup"), "kms", d.dir.file("by-hand")], environment: pyEnv)
        #expect(byHand.status == 0, "\(byHand.all)")
        #expect(sameTree(d.dir.file("planner-data"), d.dir.file("by-hand")))

        // KMS gone: a clear error naming KMS, the operation and the key, nothing else.
        try FileManager.default.removeItem(atPath: d.dir.file("state"))
        server.stop()
        let down = try run(["snapshots", "list"])
        #expect(down.status == 1 && down.stderr.contains("KMS Decrypt with key alias/leafguard"), "\(down.all)")
        #expect(!down.all.contains("leafguard-secret"))
    }
}

extension KMSMasterKeyTests {
    /// A deployment with a key file moves its keyring key into KMS with `keys change-key
    /// --new-key aws-kms:KEY` (keys.kms set first); after keys.master names it, the key file
    /// can go, and everything restores.
    @Test func aKeyFileDeploymentMovesIntoKMS() throws {
        let server = try MotoServer()
        #expect(
            try KMSClientTests().boto3(server, "k = kms.create_key()['KeyMetadata']['KeyId']; kms.create_alias(AliasName='alias/moved', TargetKeyId=k)").status
                == 0)
        let d = try DeploymentFixture()
        var env = ProcessInfo.processInfo.environment
        env["AWS_ACCESS_KEY_ID"] = "leafguard"
        env["AWS_SECRET_ACCESS_KEY"] = "leafguard-secret"
        let run = { (args: [String]) in try leafguard(args + ["--config", d.config], environment: env) }
        #expect(try run(["run", "backup-only"]).status == 0)
        let text = try String(contentsOfFile: d.config, encoding: .utf8)
        try d.dir.write(
            "leafguard.yml",
            text.replacingOccurrences(
                of: "master: file:keys/master.key", with: "master: file:keys/master.key\n  kms: {region: eu-west-1, endpoint: \"\(server.endpoint)\"}"))
        let change = try run(["keys", "change-key", "--new-key", "aws-kms:alias/moved"])
        #expect(change.status == 0, "\(change.all)")
        try d.dir.write(
            "leafguard.yml",
            text.replacingOccurrences(
                of: "master: file:keys/master.key", with: "master: aws-kms:alias/moved\n  kms: {region: eu-west-1, endpoint: \"\(server.endpoint)\"}"))
        try FileManager.default.removeItem(atPath: d.dir.file("keys"))
        try FileManager.default.removeItem(atPath: d.dir.file("state"))
        let restore = try run(["restore", "latest", "--to", d.dir.file("restored")])
        #expect(restore.status == 0, "\(restore.all)")
        #expect(sameTree(d.dir.file("planner-data"), d.dir.file("restored")))
        #expect(try run(["run", "backup-only"]).status == 0)
    }
}
