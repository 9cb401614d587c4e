import Foundation
import KeelCore
import KeelTestSupport
import Testing

@Test(arguments: FakeCredentials.all)
func everyCredentialShapeIsRedactedInsideText(_ credential: String) {
    let redactor = SecretRedactor()
    let text = "the agent said: \(credential) (done)"
    #expect(redactor(text) == "the agent said: [REDACTED] (done)")
}

@Test func credentialsInsideJSONStringsAreRedactedEvenAfterAnEscapedNewline() {
    let redactor = SecretRedactor()
    let line = #"{"type":"result","result":"token:\n\#(FakeCredentials.github)\nkey=\#(FakeCredentials.aws)"}"#
    #expect(redactor(line) == #"{"type":"result","result":"token:\n[REDACTED]\nkey=[REDACTED]"}"#)
}

@Test func aPEMKeyOnOneEscapedLineIsRedactedFromBeginToEnd() {
    let escaped = FakeCredentials.pem.replacingOccurrences(of: "\n", with: "\\n")
    #expect(SecretRedactor()("key: \"\(escaped)\" ok") == "key: \"[REDACTED]\" ok")
}

@Test(arguments: [
    String(repeating: "a3f9", count: 16),  // a SHA-256 hex
    "9fceb02d0ae598e95dc970b74767f19372d61af8",  // a git sha
    "pip install sk-learn scikit-learn",
    "sk-" + "short-Ab1",  // too short for a key
    "branch sk-add-the-retry-button-to-the-settings-page-now",  // long, but a name: no digits or capitals
    "ghp_tooShort123",
    "githubghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",  // not at a word start
    "AKIA" + "IOSFODNN7EXAMPLEX",  // 17 characters after AKIA: not an access key id
    "xox" + "b-short",
    "eyJhbGciOi.eyJ",  // a JWT needs two real segments
    "-----BEGIN PUBLIC KEY-----",
    "[REDACTED] stays [REDACTED]",
])
func ordinaryTextIsLeftAlone(_ text: String) {
    #expect(SecretRedactor(secrets: ["unrelated-secret-value"])(text) == text)
}

@Test func knownValuesAreRedactedLongestFirstAndShortOnesIgnored() {
    let redactor = SecretRedactor(secrets: ["hunter2-password", "hunter2-password-extended", "true"])
    #expect(redactor("a hunter2-password-extended b hunter2-password c true") == "a [REDACTED] b [REDACTED] c true")
}

@Test func bytesThatAreNotUTF8SurviveRedaction() {
    let bytes: [UInt8] = [0xFF, 0xFE] + Array(" \(FakeCredentials.github) ".utf8) + [0xC3]
    #expect(SecretRedactor().redact(bytes) == [0xFF, 0xFE] + Array(" [REDACTED] ".utf8) + [0xC3])
}

@Test func aPrivateKeyPrintedLineByLineIsRedactedOnEveryLine() {
    let redactor = SecretRedactor()
    var inside = false
    let lines = ("before\n" + FakeCredentials.pem + " after\nnext").split(separator: "\n").map { Array($0.utf8) }
    let redacted = lines.map { String(decoding: redactor.redactLine($0, insidePrivateKey: &inside), as: UTF8.self) }
    #expect(redacted == ["before", "[REDACTED]", "[REDACTED]", "[REDACTED]", "[REDACTED] after", "next"])
    #expect(!inside)
}

@Test(arguments: [("GITHUB_TOKEN", true), ("ANTHROPIC_API_KEY", true), ("aws_secret_access_key", true), ("KEEL_SMTP_PASSWORD", true),
                  ("PATH", false), ("HOME", false), ("KEEL_TASK_FILE", false)])
func variableNamesThatLookSecret(_ name: String, _ secret: Bool) {
    #expect(SecretRedactor.looksSecret(variableName: name) == secret)
}

@Test func anErrorIsScrubbedOnlyWhenItsTextHoldsASecret() {
    struct Failure: Error, CustomStringConvertible { var description: String }
    let redactor = SecretRedactor(secrets: ["refresh-token-123"])
    #expect("\(redactor.scrub(Failure(description: "bad refresh-token-123")))" == "bad [REDACTED]")
    #expect(redactor.scrub(Failure(description: "plain")) is Failure)
    #expect("\(redactor.scrub(Failure(description: "sent \(FakeCredentials.slack)")))" == "sent [REDACTED]")
}
