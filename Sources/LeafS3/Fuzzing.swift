import Foundation

/// Entry points for the fuzz harness (Fuzz/Targets) into the HTTP and XML readers, which
/// stay internal to the S3 backend. An SPI rather than `@testable import`, because a
/// release build compiles the harness too and allows no testable import.
@_spi(Fuzzing) public enum S3Fuzzing {
    /// Reads one HTTP/1.1 response from `fd` as the connection pool does; a thrown error is
    /// the expected answer to bad bytes.
    public static func receiveResponse(_ fd: Int32, timeout: TimeInterval) throws {
        _ = try PlainHTTPPool.receive(fd, isHEAD: false, pace: TransferPace(idleTimeout: timeout, deadline: timeout, minimumRate: 1, grace: timeout))
    }

    /// Reads a KMS reply as the KMS client does (status 200 then 400, the plaintext and the
    /// data key of a success); a thrown error is the expected answer to bad bytes.
    public static func kmsReply(_ body: [UInt8]) {
        var bytes = body
        let plaintext = KMSClient.takePlaintext(&bytes)
        if let object = try? KMSClient.reply(200, bytes, operation: "GenerateDataKey", key: "fuzz") {
            _ = try? KMSClient.dataKey(from: object, plaintext: plaintext, operation: "GenerateDataKey", key: "fuzz")
        }
        _ = try? KMSClient.reply(400, body, operation: "Decrypt", key: "fuzz")
    }

    /// The texts of every `<name>…</name>` element of `text`, as the S3 client reads replies.
    public static func xmlElements(_ name: String, in text: String) -> [String] { xmlValues(name, in: text) }
}
