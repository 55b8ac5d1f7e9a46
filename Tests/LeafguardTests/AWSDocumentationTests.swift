import Foundation
import LeafConfig
import LeafTestSupport
import Testing

/// docs/aws.md is what leafguard accepts (issue 31, point 7, as far as it goes): each
/// leafguard.yml on the page loads with leafguard's own loader, each JSON policy parses, and
/// the policy files it names are the blocks shown.
@Suite struct AWSDocumentationTests {
    func blocks(_ kind: String) throws -> [(label: String, text: String)] {
        let doc = try String(contentsOfFile: packageRoot + "/docs/aws.md", encoding: .utf8)
        return doc.matches(of: /```(\w+) (\S+)\n([\s\S]*?)\n```/).filter { $0.output.1 == kind }.map { (String($0.output.2), String($0.output.3)) }
    }

    @Test func everyConfigurationOnThePageLoads() throws {
        let configs = try blocks("yaml")
        #expect(!configs.isEmpty)
        for (label, text) in configs {
            #expect(label == "leafguard.yml")
            let config = try ConfigLoader.parse(text, file: "/etc/leafguard/leafguard.yml")
            #expect(config.masterKey == .awsKMS(keyID: "alias/leafguard") && config.kms?.region == "eu-west-1")
            #expect(Set(config.regionNames) == ["primary", "backup"])
        }
    }

    @Test func everyPolicyOnThePageIsJSONAndShippedAsAFile() throws {
        let policies = Dictionary(uniqueKeysWithValues: try blocks("json").map { ($0.label, $0.text) })
        let files = ["kms-key-policy": "docs/aws/kms-key-policy.json", "iam-policy": "docs/aws/iam/leafguard-s3.json"]
        #expect(Set(policies.keys) == Set(files.keys))
        for (label, path) in files {
            let shown = try JSONSerialization.jsonObject(with: Data((policies[label] ?? "").utf8)) as? NSDictionary
            let shipped = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: packageRoot + "/" + path))) as? NSDictionary
            #expect(shown != nil && shown == shipped, "\(path) is the policy docs/aws.md shows")
        }
    }
}
