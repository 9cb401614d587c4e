import Foundation
import KeelLedger
import KeelTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct KeyTests {
    /// RFC 8032 §7.1 test 1; the agent id and hash are what aiss `derive_agent_id` and
    /// `hash_bytes` give for this key.
    @Test func agentIDDerivesAsAissDoes() throws {
        let raw = hexBytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let key = try AgentKey(rawRepresentation: raw)
        #expect(AgentID.derive(publicKey: raw) == "3HhGPB6ht33n51YFaocqBtGePb3xqT4V")
        #expect(key.agentID == "3HhGPB6ht33n51YFaocqBtGePb3xqT4V")
        #expect(key.genesisHash == "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9")
        let signature = hexBytes(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        )
        #expect(key.isValidSignature(signature, for: []))
        #expect(!key.isValidSignature(signature, for: [0]))
    }

    @Test func privateKeyFromRFC8032SeedHasTheRFCPublicKey() throws {
        let seed = hexBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        let identity = try SigningIdentity(privateKeyRawRepresentation: seed, createdAt: testEpoch)
        #expect(identity.agentID == "3HhGPB6ht33n51YFaocqBtGePb3xqT4V")
        #expect(identity.key.base64 == "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    }

    @Test func identityDocumentRoundTripsThroughJSON() throws {
        let identity = SigningIdentity.generate(createdAt: testEpoch)
        let document = identity.document
        #expect(document.version == "AISS-1.0")
        #expect(document.algorithm == "Ed25519")
        #expect(document.agentID == identity.agentID)
        #expect(document.createdAt == testEpoch)
        #expect(document.agentIDMatchesKey)
        let text = try document.encoded()
        #expect(try IdentityDocument.parse(text) == document)
        #expect(try document.agentKey() == identity.key)
        #expect(
            text.utf8String.hasPrefix("{\"agent_id\":\"\(identity.agentID)\",\"algorithm\":\"Ed25519\",\"created_at\":\(testEpoch),\"public_key\":\"")
        )
    }

    @Test func identityDocumentMissingAFieldSaysWhich() {
        #expect {
            _ = try IdentityDocument.parse(Array(#"{"version":"AISS-1.0","agent_id":"x","algorithm":"Ed25519","created_at":1}"#.utf8))
        } throws: { error in
            (error as? LedgerError)?.message.contains("public_key") == true
        }
    }

    @Test func pinningAcceptsABase64KeyOrAnIdentityDocument() throws {
        let identity = SigningIdentity.generate(createdAt: testEpoch)
        #expect(try AgentKey(pinning: identity.key.base64) == identity.key)
        #expect(try AgentKey(pinning: try identity.document.encoded().utf8String) == identity.key)
        var forged = identity.document
        forged.agentID = SigningIdentity.generate(createdAt: testEpoch).agentID
        #expect(throws: LedgerError.self) { try AgentKey(pinning: try forged.encoded().utf8String) }
        #expect(throws: LedgerError.self) { try AgentKey(pinning: "not base64!") }
    }

    // MARK: key files

    @Test func keyFileIsCreatedPrivateWithItsDirectoriesAndReloaded() async throws {
        try await withTemporaryDirectory { tmp in
            let path = tmp.path("state", "keys", "ledger.key")
            let file = KeyFile(path: path)
            let created = try file.loadOrCreate(createdAt: testEpoch)
            #expect(mode(of: path) == 0o600)
            let again = try file.loadOrCreate(createdAt: testEpoch + 99)
            #expect(again.key == created.key)
            #expect(again.createdAt == testEpoch)
            #expect(try file.load().agentID == created.agentID)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: tmp.path("state", "keys"))
            #expect(leftovers == ["ledger.key"])
        }
    }

    @Test func keyFileReadableByOthersIsRefusedWithChmodAdvice() async throws {
        try await withTemporaryDirectory { tmp in
            let path = tmp.path("ledger.key")
            let file = KeyFile(path: path)
            _ = try file.loadOrCreate(createdAt: testEpoch)
            #expect(chmod(path, 0o644) == 0)
            #expect {
                _ = try file.loadOrCreate(createdAt: testEpoch)
            } throws: { error in
                guard let error = error as? LedgerError else { return false }
                return error.code == .insecureKeyFile && error.message.contains("chmod 600 \(path)")
            }
            #expect(chmod(path, 0o600) == 0)
            _ = try file.load()
        }
    }

    @Test func corruptKeyFileIsAnErrorNotANewKey() async throws {
        try await withTemporaryDirectory { tmp in
            let path = tmp.path("ledger.key")
            #expect(FileManager.default.createFile(atPath: path, contents: Data("garbage".utf8), attributes: [.posixPermissions: 0o600]))
            #expect(throws: LedgerError.self) { try KeyFile(path: path).loadOrCreate(createdAt: testEpoch) }
        }
    }

    @Test func aKeyFileFromBeforeSigningWasRecordedLoadsAndRecordsItOnceStillPrivate() async throws {
        try await withTemporaryDirectory { tmp in
            let path = tmp.path("ledger.key")
            // Exactly what the previous version wrote: no signing_since.
            let seed = (0..<32).map { UInt8($0 * 7 % 256) }
            let old = try SigningIdentity(privateKeyRawRepresentation: seed, createdAt: testEpoch)
            let text = #"{"algorithm":"Ed25519","created_at":\#(testEpoch),"private_key":"\#(Data(seed).base64EncodedString())","version":"AISS-1.0"}"# + "\n"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
            let file = KeyFile(path: path)
            #expect(try file.load().key == old.key)
            #expect(try file.signingSince() == nil)

            let signing = try file.loadForSigning(now: testEpoch + 50)
            #expect(signing.key == old.key && signing.createdAt == testEpoch)
            #expect(try file.signingSince() == testEpoch + 50)
            #expect(mode(of: path) == 0o600)
            #expect(try file.load().key == old.key, "recording the first signature lost the key")
            // The first date stays.
            _ = try file.loadForSigning(now: testEpoch + 99)
            #expect(try file.signingSince() == testEpoch + 50)
            #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == ["ledger.key"])
        }
    }

    @Test func aKeyCreatedToSignRecordsItFromItsFirstByteAndAnAbsentKeyHasNotSigned() async throws {
        try await withTemporaryDirectory { tmp in
            let file = KeyFile(path: tmp.path("keys", "ledger.key"))
            #expect(try file.signingSince() == nil)
            #expect(!FileManager.default.fileExists(atPath: file.path), "asking created a key")
            let created = try file.loadForSigning(now: testEpoch)
            #expect(try file.signingSince() == testEpoch && mode(of: file.path) == 0o600)
            let next = try file.prepareRotation(createdAt: testEpoch + 10)
            #expect(try KeyFile(path: file.pendingRotationPath).signingSince() == testEpoch + 10, "a rotation's key signs this ledger")
            #expect(try file.commitRotation().key == next.key && next.key != created.key)
            #expect(try file.signingSince() == testEpoch + 10)
        }
    }

    @Test func rotationPreparesANewKeyAndCommitsItAtomically() async throws {
        try await withTemporaryDirectory { tmp in
            let file = KeyFile(path: tmp.path("ledger.key"))
            let old = try file.loadOrCreate(createdAt: testEpoch)
            let next = try file.prepareRotation(createdAt: testEpoch + 10)
            #expect(next.key != old.key)
            #expect(mode(of: file.pendingRotationPath) == 0o600)
            // A crash here and a second attempt must give the same pending key.
            #expect(try file.prepareRotation(createdAt: testEpoch + 20).key == next.key)
            #expect(try file.load().key == old.key)
            let committed = try file.commitRotation()
            #expect(committed.key == next.key)
            #expect(try file.load().key == next.key)
            #expect(!FileManager.default.fileExists(atPath: file.pendingRotationPath))
        }
    }
}

func hexBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

func mode(of path: String) -> mode_t {
    var status = stat()
    guard stat(path, &status) == 0 else { return 0 }
    return status.st_mode & 0o777
}
