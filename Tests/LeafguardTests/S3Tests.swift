import Foundation
import LeafDigest
import LeafStorage
import LeafTestSupport
import Testing

@testable import LeafS3

/// AWS Signature Version 4 against AWS's published examples.
@Suite struct SigV4Tests {
    let date = ISO8601DateFormatter().date(from: "2015-08-30T12:36:00Z")!
    let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    func suiteSigner() throws -> SigV4Signer {
        SigV4Signer(
            credentials: try AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "service")
    }

    /// get-vanilla of the Signature Version 4 test suite.
    @Test func getVanilla() throws {
        let auth = try suiteSigner().authorization(
            method: "GET", path: "/", query: [], headers: ["Host": "example.amazonaws.com"],
            payloadHash: emptyHash, date: date)
        #expect(auth.amzDate == "20150830T123600Z")
        #expect(
            auth.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
    }

    /// get-vanilla-query-order-key-case: parameters are sorted in the canonical query.
    @Test func queryParametersAreSorted() throws {
        let auth = try suiteSigner().authorization(
            method: "GET", path: "/", query: [("Param2", "value2"), ("Param1", "value1")],
            headers: ["host": "example.amazonaws.com"], payloadHash: emptyHash, date: date)
        #expect(auth.authorization.hasSuffix("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"))
    }

    /// The GET Object example of the Amazon S3 API reference (a ranged GET of test.txt).
    @Test func s3GetObjectExample() throws {
        let signer = SigV4Signer(
            credentials: try AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "s3")
        let when = ISO8601DateFormatter().date(from: "2013-05-24T00:00:00Z")!
        let auth = signer.authorization(
            method: "GET", path: "/test.txt", query: [],
            headers: ["host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9", "x-amz-content-sha256": emptyHash],
            payloadHash: emptyHash, date: when)
        #expect(
            auth.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
        #expect(!"\(signer.credentials)".contains("wJalr"), "the secret is never printed")
    }
}

/// The same storage contract as the local backend, against a real S3 server (moto) on loopback.
@Suite(.serialized) struct S3StoreTests {
    static let env = ["AWS_ACCESS_KEY_ID": "leafguard-test", "AWS_SECRET_ACCESS_KEY": "leafguard-test-secret"]

    func client(_ server: MotoServer, region: String = "eu-west-1") throws -> S3Client {
        S3Client(
            endpoint: S3Endpoint(url: URL(string: server.endpoint)!, region: region, pathStyle: true),
            credentials: try AWSCredentials(accessKeyID: "leafguard-test", secretAccessKey: "leafguard-test-secret"))
    }

    /// Issue 31, point 4: every put carries the object's SHA-256, which S3 checks and keeps:
    /// an independent client (boto3) reads back the checksum leafguard sent. (moto keeps it
    /// without checking it; the hostile server's bent reply shows leafguard's own check.)
    @Test func everyPutCarriesAChecksumS3Keeps() throws {
        let server = try MotoServer()
        let c = try client(server)
        try c.createBucket("lg-sums")
        let bytes = Array("the bytes of a sealed object".utf8)
        try S3Store(name: "s3/sums", client: c, location: S3Location(bucket: "lg-sums", prefix: "")).put("data/ab/x", bytes)
        let r = try runCommand(
            MotoServer.python,
            [
                "-c",
                """
                import boto3
                s3 = boto3.client("s3", endpoint_url="\(server.endpoint)", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
                print(s3.head_object(Bucket="lg-sums", Key="data/ab/x", ChecksumMode="ENABLED").get("ChecksumSHA256"))
                """,
            ])
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == Data(SHA256.hash(bytes)).base64EncodedString(), "\(r.all)")
    }

    /// Against the server `.ci/run` started ($LEAFGUARD_S3_ENDPOINT), else one of its own.
    @Test func anS3LocationKeepsTheObjectStoreContract() throws {
        let external = ProcessInfo.processInfo.environment["LEAFGUARD_S3_ENDPOINT"]
        let server = external == nil ? try MotoServer() : nil
        let c = S3Client(
            endpoint: S3Endpoint(url: URL(string: external ?? server!.endpoint)!, region: "eu-west-1", pathStyle: true),
            credentials: try AWSCredentials(accessKeyID: "leafguard-test", secretAccessKey: "leafguard-test-secret"))
        let run = UUID().uuidString.prefix(8).lowercased()
        let shared = "shared-\(run)"
        let own = "own-\(run)"
        try c.createBucket(shared)
        try c.createBucket(own)
        // A location as a prefix of a shared bucket, and a location as a bucket of its own.
        try checkObjectStoreConformance { part in S3Store(name: "s3/loc0", client: c, location: S3Location(bucket: shared, prefix: "loc0/\(part)/")) }
        // A bucket of its own: the first part at the bucket's root, the others below it.
        var first = true
        try checkObjectStoreConformance { part in
            defer { first = false }
            return S3Store(name: "s3/own", client: c, location: S3Location(bucket: own, prefix: first ? "" : "\(part)/"))
        }
        // Large objects go up in parts (here: 12 MiB in parts of 5 MiB), and are never overwritten either.
        var multipart = S3Store(name: "s3/loc2", client: c, location: S3Location(bucket: shared, prefix: "loc2/"))
        multipart.multipartThreshold = 6 << 20
        multipart.partSize = 5 << 20
        let big = (0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try multipart.put("data/ab/big.0", big)
        #expect(try multipart.get("data/ab/big.0") == big)
        #expect(throws: StorageError.alreadyExists(location: "s3/loc2", key: "data/ab/big.0")) { try multipart.put("data/ab/big.0", big) }
        #expect(try multipart.get("data/ab/big.0") == big && multipart.size(of: "data/ab/big.0") == big.count)
        // The prefix keeps locations apart.
        let other = S3Store(name: "s3/loc1", client: c, location: S3Location(bucket: shared, prefix: "loc1/"))
        #expect(try other.list(prefix: "") == [])
    }

    /// The same contract through URLSession, the transport every https:// endpoint (AWS
    /// itself) takes, here over plain HTTP to the loopback server.
    @Test func anS3LocationKeepsTheObjectStoreContractThroughURLSession() throws {
        let external = ProcessInfo.processInfo.environment["LEAFGUARD_S3_ENDPOINT"]
        let server = external == nil ? try MotoServer() : nil
        let c = S3Client(
            endpoint: S3Endpoint(url: URL(string: external ?? server!.endpoint)!, region: "eu-west-1", pathStyle: true),
            credentials: try AWSCredentials(accessKeyID: "leafguard-test", secretAccessKey: "leafguard-test-secret"), maxConnections: 16,
            timeout: 60, deadline: 900, maximumResponseBytes: 1 << 30, plainHTTP: false)
        let bucket = "urlsession-\(UUID().uuidString.prefix(8).lowercased())"
        try c.createBucket(bucket)
        try checkObjectStoreConformance { part in S3Store(name: "s3/loc0", client: c, location: S3Location(bucket: bucket, prefix: "loc0/\(part)/")) }
    }

    @Test func aMissingBucketOrAStoppedServerIsAClearError() throws {
        let server = try MotoServer()
        let c = try client(server)
        let missing = S3Store(name: "s3/loc0", client: c, location: S3Location(bucket: "no-such-bucket", prefix: ""))
        #expect { try missing.put("config", [1]) } throws: { "\($0)".contains("no-such-bucket") && "\($0)".contains("does not exist") }
        #expect { try missing.size(of: "config") } throws: { "\($0)".contains("does not exist") }
        try c.createBucket("region-b")
        try S3Store(name: "s3/loc0", client: c, location: S3Location(bucket: "region-b", prefix: "")).put("config", [1, 2])
        let store = RetryingStore(
            S3Store(name: "s3/loc0", client: try client(server), location: S3Location(bucket: "region-b", prefix: "")),
            policy: RetryPolicy(attempts: 2, base: 0))
        server.stop()
        #expect { try store.get("config") } throws: { e in
            guard case StorageError.unavailable(let l, let reason) = e else { return false }
            return l == "s3/loc0" && reason.contains("after 2 attempts")
        }
    }
}

/// Regions on S3 in a whole deployment: local primary replicated to an S3 backup region,
/// checked with boto3, and a region populated by boto3 restored by leafguard.
@Suite(.serialized) struct S3DeploymentTests {
    var env: [String: String] {
        var e = ProcessInfo.processInfo.environment
        for (k, v) in S3StoreTests.env { e[k] = v }
        return e
    }

    func boto3(_ server: MotoServer, _ script: String) throws -> CommandOutput {
        let prelude = """
            import boto3, sys, os
            s3 = boto3.client("s3", endpoint_url="\(server.endpoint)", region_name="eu-west-1",
                              aws_access_key_id="other-client", aws_secret_access_key="other-secret")
            def keys(bucket):
                return [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in p.get("Contents", [])]

            """
        return try runCommand(MotoServer.python, ["-c", prelude + script])
    }

    @Test func aLocalPrimaryReplicatesToS3AndAnIndependentClientAgrees() throws {
        let server = try MotoServer()
        let c = try S3StoreTests().client(server)
        try c.createBucket("lg-backup")
        let d = try DeploymentFixture()
        let yml = try String(contentsOfFile: d.config, encoding: .utf8).replacingOccurrences(
            of: "backup:  { backend: local, path: regions/backup,  locations: 6 }",
            with: "backup:  { backend: s3, endpoint: \"\(server.endpoint)\", region: eu-west-1, bucket: lg-backup, locations: 6 }")
        #expect(yml.contains("backend: s3"))
        try d.dir.write("leafguard.yml", yml)
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}, {verify: {read_data: 100}}]\n")
        let run = try leafguard(["run", "nightly", "--config", d.config], environment: env)
        #expect(run.status == 0, "\(run.all)")

        // boto3 sees every shard leafguard placed, and the config byte for byte.
        let local = Set(filesBelow(d.dir.file("regions/primary")).filter { $0.contains("/data/") })
        let listed = try boto3(
            server,
            """
            for k in sorted(keys("lg-backup")): print(k)
            print("CONFIG", s3.get_object(Bucket="lg-backup", Key="loc0/config")["Body"].read().hex())
            """)
        #expect(listed.status == 0, "\(listed.all)")
        let lines = listed.stdout.split(separator: "\n").map(String.init)
        #expect(Set(lines.filter { $0.contains("/data/") }) == local, "the same shards in the same locations")
        let configHex = [UInt8](try Data(contentsOf: URL(fileURLWithPath: d.dir.file("regions/primary/loc0/config")))).map { String(format: "%02x", $0) }
            .joined()
        #expect(lines.contains("CONFIG \(configHex)"))

        // Restore from the S3 region matches a restore from the local one.
        #expect(try leafguard(["restore", "latest", "--to", d.dir.file("from-local"), "--config", d.config], environment: env).status == 0)
        let fromS3 = try leafguard(["restore", "latest", "--region", "backup", "--to", d.dir.file("from-s3"), "--config", d.config], environment: env)
        #expect(fromS3.status == 0, "\(fromS3.all)")
        #expect(sameTree(d.dir.file("from-local"), d.dir.file("from-s3")))

        // A bucket filled by boto3 from the local region's files restores too.
        let upload = try boto3(
            server,
            """
            s3.create_bucket(Bucket="lg-copy", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
            root = "\(d.dir.file("regions/primary"))"
            for dirpath, _, files in os.walk(root):
                for f in files:
                    path = os.path.join(dirpath, f)
                    s3.upload_file(path, "lg-copy", os.path.relpath(path, root))
            print(len(keys("lg-copy")))
            """)
        #expect(upload.status == 0, "\(upload.all)")
        try d.dir.write(
            "leafguard.yml",
            yml.replacingOccurrences(
                of: "regions:\n",
                with: "regions:\n  copy: { backend: s3, endpoint: \"\(server.endpoint)\", region: eu-west-1, bucket: lg-copy, locations: 6 }\n"))
        let fromCopy = try leafguard(["restore", "latest", "--region", "copy", "--to", d.dir.file("from-copy"), "--config", d.config], environment: env)
        #expect(fromCopy.status == 0, "\(fromCopy.all)")
        #expect(sameTree(d.dir.file("from-local"), d.dir.file("from-copy")))

        // The backup region stopped: a clear error naming it; the primary still restores.
        server.stop()
        let down = try leafguard(["restore", "latest", "--region", "backup", "--to", d.dir.file("down"), "--config", d.config], environment: env)
        #expect(down.status != 0 && down.stderr.contains("backup/loc"), "\(down.all)")
        // One location spent its retries; the region's other locations made one attempt each
        // (a dead server costs one round of retries, not six).
        #expect(down.stderr.contains("after 8 attempts") && down.stderr.contains("one attempt"), "\(down.all)")
        #expect(try leafguard(["restore", "latest", "--to", d.dir.file("still"), "--config", d.config], environment: env).status == 0)
    }
}

/// What goes wrong with S3 in practice: throttling and server errors midway, a slow
/// server, wrong credentials. Each test has a server (and proxy) of its own.
@Suite struct S3FaultTests {
    func deployment(backupEndpoint: String) throws -> DeploymentFixture {
        let d = try DeploymentFixture()
        let yml = try String(contentsOfFile: d.config, encoding: .utf8).replacingOccurrences(
            of: "backup:  { backend: local, path: regions/backup,  locations: 6 }",
            with: "backup:  { backend: s3, endpoint: \"\(backupEndpoint)\", region: eu-west-1, bucket: lg-backup, locations: 6 }")
        try d.dir.write("leafguard.yml", yml)
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}]\n")
        return d
    }

    @Test func throttlingAndServerErrorsMidwayAreRetriedWithRequestsInFlight() throws {
        let server = try MotoServer()
        try S3StoreTests().client(server).createBucket("lg-backup")
        // Every fourth request answered 503 SlowDown, each delayed a little.
        let proxy = try FaultProxy(upstream: server.endpoint, failEvery: 4, delay: 0.02)
        let d = try deployment(backupEndpoint: proxy.endpoint)
        try addDocument(to: d, megabytes: 40)  // several packs, so replication overlaps requests
        let run = try leafguard(["run", "nightly", "--config", d.config], environment: S3DeploymentTests().env)
        #expect(run.status == 0, "\(run.all)")
        let stats = try proxy.stats()
        #expect((stats["failed"] ?? 0) > 10, "\(stats)")
        #expect((stats["max_in_flight"] ?? 0) >= 4, "replication keeps at least 4 requests in flight: \(stats)")
        #expect(try leafguard(["restore", "latest", "--to", d.dir.file("local"), "--config", d.config]).status == 0)
        let fromS3 = try leafguard(
            ["restore", "latest", "--region", "backup", "--to", d.dir.file("s3"), "--config", d.config], environment: S3DeploymentTests().env)
        #expect(fromS3.status == 0, "\(fromS3.all)")
        #expect(sameTree(d.dir.file("local"), d.dir.file("s3")))
    }

    @Test func aSlowServerIsWaitedFor() throws {
        let server = try MotoServer()
        try S3StoreTests().client(server).createBucket("lg-backup")
        // Every answer 50 ms late: fifty times loopback's, and a backup, a replication and a
        // restore of a few hundred requests each still finish.
        let proxy = try FaultProxy(upstream: server.endpoint, delay: 0.05)
        let d = try deployment(backupEndpoint: proxy.endpoint)
        let run = try leafguard(["run", "nightly", "--config", d.config], environment: S3DeploymentTests().env)
        #expect(run.status == 0, "\(run.all)")
        let fromS3 = try leafguard(
            ["restore", "latest", "--region", "backup", "--to", d.dir.file("s3"), "--config", d.config], environment: S3DeploymentTests().env)
        #expect(fromS3.status == 0, "\(fromS3.all)")
    }

    @Test func wrongCredentialsAreAClearErrorAndWriteNothing() throws {
        // moto checks signatures once its first four actions (the setup below) are done.
        let server = try MotoServer(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "4"])
        let setup = try runCommand(
            MotoServer.python,
            [
                "-c",
                """
                import boto3, json
                kw = dict(endpoint_url="\(server.endpoint)", region_name="eu-west-1", aws_access_key_id="setup", aws_secret_access_key="setup")
                iam = boto3.client("iam", **kw)
                iam.create_user(UserName="leafguard")
                key = iam.create_access_key(UserName="leafguard")["AccessKey"]
                iam.put_user_policy(UserName="leafguard", PolicyName="all", PolicyDocument=json.dumps(
                    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
                boto3.client("s3", **kw).create_bucket(Bucket="lg-backup", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
                print(key["AccessKeyId"], key["SecretAccessKey"])
                """,
            ])
        #expect(setup.status == 0, "\(setup.all)")
        let parts = setup.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        try #require(parts.count == 2)
        let d = try deployment(backupEndpoint: server.endpoint)
        var wrong = ProcessInfo.processInfo.environment
        wrong["AWS_ACCESS_KEY_ID"] = parts[0]; wrong["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        let refused = try leafguard(["run", "nightly", "--config", d.config], environment: wrong)
        #expect(refused.status != 0 && refused.all.contains("check the credentials"), "\(refused.all)")
        #expect(!refused.all.contains("not-the-secret"), "the secret is never printed")
        let listed = try runCommand(
            MotoServer.python,
            [
                "-c",
                """
                import boto3
                s3 = boto3.client("s3", endpoint_url="\(server.endpoint)", region_name="eu-west-1", aws_access_key_id="\(parts[0])", aws_secret_access_key="\(parts[1])")
                print(s3.list_objects_v2(Bucket="lg-backup").get("KeyCount", 0))
                """,
            ])
        #expect(listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "nothing was written with the wrong key: \(listed.all)")
        // The right key signs requests moto verifies. (Only object requests: moto rejects
        // the signature of any list with a '/' in its prefix, boto3's own included.)
        let client = S3Client(
            endpoint: S3Endpoint(url: URL(string: server.endpoint)!, region: "eu-west-1", pathStyle: true),
            credentials: try AWSCredentials(accessKeyID: parts[0], secretAccessKey: parts[1]))
        let store = S3Store(name: "backup/loc0", client: client, location: S3Location(bucket: "lg-backup", prefix: "loc0/"))
        try store.put("keys/k", [1, 2, 3])
        #expect(try store.get("keys/k") == [1, 2, 3] && store.size(of: "keys/k") == 3 && store.holds("keys/k", exactly: [1, 2, 3]))
        #expect(throws: StorageError.alreadyExists(location: "backup/loc0", key: "keys/k")) { try store.put("keys/k", [9]) }
        let wrongClient = S3Client(endpoint: client.endpoint, credentials: try AWSCredentials(accessKeyID: parts[0], secretAccessKey: "nope"))
        let denied = S3Store(name: "backup/loc0", client: wrongClient, location: S3Location(bucket: "lg-backup", prefix: "loc0/"))
        #expect { try denied.get("keys/k") } throws: { "\($0)".contains("SignatureDoesNotMatch") && "\($0)".contains("check the credentials") }
    }
}

extension S3DeploymentTests {
    /// Both regions on S3, each its own server (two AWS regions): backup, replicate,
    /// verify, and restore from either; then the primary's server stops and the backup
    /// region alone restores.
    @Test func s3ToS3AcrossTwoRegions() throws {
        let east = try MotoServer()
        let west = try MotoServer()
        try S3StoreTests().client(east, region: "us-east-1").createBucket("lg-primary")
        try S3StoreTests().client(west, region: "eu-west-1").createBucket("lg-backup")
        let d = try DeploymentFixture()
        var yml = try String(contentsOfFile: d.config, encoding: .utf8)
        yml = yml.replacingOccurrences(
            of: "primary: { backend: local, path: regions/primary, locations: 6 }",
            with: "primary: { backend: s3, endpoint: \"\(east.endpoint)\", region: us-east-1, bucket: lg-primary, locations: 6 }")
        yml = yml.replacingOccurrences(
            of: "backup:  { backend: local, path: regions/backup,  locations: 6 }",
            with: "backup:  { backend: s3, endpoint: \"\(west.endpoint)\", region: eu-west-1, bucket: lg-backup, locations: 6 }")
        #expect(!yml.contains("backend: local"))
        try d.dir.write("leafguard.yml", yml)
        try d.dir.write("jobs/nightly.yml", "name: nightly\nsteps: [backup, {replicate: {to: backup}}, {verify: {read_data: 100}}]\n")
        let run = try leafguard(["run", "nightly", "--config", d.config], environment: env)
        #expect(run.status == 0, "\(run.all)")
        for region in ["primary", "backup"] {
            let r = try leafguard(["restore", "latest", "--region", region, "--to", d.dir.file("from-\(region)"), "--config", d.config], environment: env)
            #expect(r.status == 0, "\(region): \(r.all)")
        }
        #expect(sameTree(d.dir.file("from-primary"), d.dir.file("from-backup")))
        east.stop()
        let alone = try leafguard(["restore", "latest", "--region", "backup", "--to", d.dir.file("alone"), "--config", d.config], environment: env)
        #expect(alone.status == 0, "\(alone.all)")
        #expect(sameTree(d.dir.file("from-primary"), d.dir.file("alone")))
    }
}

/// The plain-HTTP client against a server that frames its answers every way HTTP/1.1
/// allows: a length, chunks, or closing the connection; and that drops idle connections.
@Suite struct PlainHTTPTests {
    /// Headers and a large body arriving in one read are a response, not "headers longer
    /// than 64 KiB" (seen under load in the S3 conformance suite). The whole response is in
    /// the socket before the first read, so that read holds both.
    @Test func headersAndBodyInOneReadAreAccepted() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]) }
        var size: Int32 = 4 << 20
        _ = setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let body = [UInt8](repeating: 0x61, count: 300_000)
        let response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        let sent = response.withUnsafeBytes { send(fds[1], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(fds[1])
        #expect(sent == response.count)
        let r = try PlainHTTPPool.receive(fds[0], isHEAD: false, pace: .standard)
        #expect(r.status == 200 && r.body == body)
    }

    @Test func everyResponseFramingIsRead() throws {
        let port = Int.random(in: 20_000...60_000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: MotoServer.python)
        server.arguments = [
            "-c",
            #"""
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                def log_message(self, *a): pass
                def do_GET(self):
                    if self.path.endswith("/chunked"):
                        self.send_response(200); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
                        for part in (b"hello, ", b"chunked world"): self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.write(b"0\r\n\r\n")
                    elif "/hostile-" in self.path:
                        raw = {
                            "empty-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                            "huge-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nx",
                            "negative-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nxxxxx\r\n0\r\n\r\n",
                            "negative-length": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                            "huge-length": b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\nxx",
                            "bad-status": b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
                            "endless-headers": b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * 100000 + b"\r\n\r\n",
                        }[self.path.split("/hostile-")[1]]
                        self.wfile.write(raw); self.wfile.flush(); self.close_connection = True
                    elif "/big-" in self.path:
                        body = b"x" * (3 << 20)
                        kind = self.path.split("/big-")[1]
                        self.send_response(200)
                        if kind == "length": self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
                        elif kind == "chunked":
                            self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
                            for i in range(0, len(body), 65536): self.wfile.write(b"%x\r\n%s\r\n" % (65536, body[i:i + 65536]))
                            self.wfile.write(b"0\r\n\r\n")
                        else: self.send_header("Connection", "close"); self.end_headers(); self.wfile.write(body); self.close_connection = True
                    elif self.path.endswith("/trickle"):
                        import time
                        self.send_response(200); self.send_header("Content-Length", "100000"); self.end_headers()
                        try:
                            for _ in range(100000): self.wfile.write(b"x"); self.wfile.flush(); time.sleep(0.25)
                        except Exception: pass
                    elif self.path.endswith("/close"):
                        self.send_response(200); self.send_header("Connection", "close"); self.end_headers()
                        self.wfile.write(b"until the end"); self.close_connection = True
                    else:
                        body = b"with a length"
                        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
            """#, String(port),
        ]
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        waitUntil(timeout: 5, every: 0.05) { MotoServer.answers(port) }
        let endpoint = S3Endpoint(url: URL(string: "http://127.0.0.1:\(port)")!, region: "us-east-1", pathStyle: true)
        let credentials = try AWSCredentials(accessKeyID: "a", secretAccessKey: "b")
        let store = S3Store(
            name: "plain", client: S3Client(endpoint: endpoint, credentials: credentials),
            location: S3Location(bucket: "bucket", prefix: ""))
        for _ in 0..<3 {  // kept-alive connections are reused, closed ones replaced
            #expect(try store.get("length") == Array("with a length".utf8))
            #expect(try store.get("chunked") == Array("hello, chunked world".utf8))
            #expect(try store.get("close") == Array("until the end".utf8))
        }
        // A hostile server's malformed framing is a clear error, never a trap or a huge allocation.
        let once = S3Store(
            name: "plain", client: S3Client(endpoint: endpoint, credentials: credentials),
            location: S3Location(bucket: "bucket", prefix: ""))
        for name in ["empty-chunk", "huge-chunk", "negative-chunk", "negative-length", "huge-length", "bad-status", "endless-headers"] {
            #expect(throws: (any Error).self, "\(name)") { _ = try once.get("hostile-" + name) }
        }
        #expect(try store.get("length") == Array("with a length".utf8), "the client still works afterwards")

        // Both transports (leafguard's plain HTTP, and URLSession as https:// endpoints use):
        // a body over the limit is refused as that object's problem, not retried as a passing
        // fault, and never held whole; a server that trickles a byte at a time is cut off at
        // the request's deadline rather than hanging the run.
        for plainHTTP in [true, false] {
            let bounded = S3Store(
                name: "bounded",
                client: S3Client(
                    endpoint: endpoint, credentials: credentials, maxConnections: 4, timeout: 2, deadline: 3, maximumResponseBytes: 1 << 20,
                    plainHTTP: plainHTTP),
                location: S3Location(bucket: "bucket", prefix: ""))
            let transport = plainHTTP ? "plain HTTP" : "URLSession"
            #expect(try bounded.get("length") == Array("with a length".utf8), "\(transport)")
            #expect(try bounded.get("chunked") == Array("hello, chunked world".utf8), "\(transport)")
            #expect(try bounded.get("close") == Array("until the end".utf8), "\(transport)")
            for framing in ["length", "chunked", "close"] {
                #expect("\(transport) big-\(framing)") { _ = try bounded.get("big-" + framing) } throws: { e in
                    guard case StorageError.io(let l, let k, let reason) = e else { return false }
                    return l == "bounded" && k == "big-\(framing)" && reason.contains("larger than 1048576 bytes")
                }
            }
            let started = Date()
            #expect("\(transport) trickle") { _ = try bounded.get("trickle") } throws: { e in
                guard case StorageError.transient = e else { return false }
                return true
            }
            // 100,000 bytes at four a second would take seven hours; the deadline is 3 s.
            #expect(Date().timeIntervalSince(started) < 60, "\(transport): cut off at the deadline")
            #expect(try bounded.get("length") == Array("with a length".utf8), "\(transport): still works afterwards")
        }
    }
}

/// Where credentials come from: the environment, or a profile of the shared credentials file.
@Suite struct AWSCredentialSourcesTests {
    @Test func environmentThenProfiles() throws {
        let dir = TemporaryDirectory("leafguard-aws")
        try dir.write(
            "credentials",
            """
            [default]
            aws_access_key_id = AKIDDEFAULT
            aws_secret_access_key = default-secret
            # a comment
            [leafguard]
            aws_access_key_id=AKIDLEAFGUARD
            aws_secret_access_key=leafguard-secret
            aws_session_token = token-1
            """)
        let file = ["AWS_SHARED_CREDENTIALS_FILE": dir.file("credentials")]
        #expect(
            try AWSCredentials.load(
                profile: nil, environment: file.merging(["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"]) { a, _ in a }
            ).accessKeyID == "AKIDENV")
        #expect(try AWSCredentials.load(profile: nil, environment: file).accessKeyID == "AKIDDEFAULT")
        #expect(try AWSCredentials.load(profile: nil, environment: file.merging(["AWS_PROFILE": "leafguard"]) { a, _ in a }).accessKeyID == "AKIDLEAFGUARD")
        let named = try AWSCredentials.load(
            profile: "leafguard", environment: file.merging(["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "x"]) { a, _ in a })
        #expect(named.accessKeyID == "AKIDLEAFGUARD" && named.sessionToken == "token-1", "a named profile wins over the environment")
        #expect { try AWSCredentials.load(profile: "missing", environment: file) } throws: { "\($0)".contains("profile 'missing'") }
        #expect { try AWSCredentials.load(profile: nil, environment: ["AWS_SHARED_CREDENTIALS_FILE": dir.file("none")]) } throws: {
            "\($0)".contains("no AWS credentials")
        }
        #expect(!"\(named)".contains("leafguard-secret"))
    }
}
