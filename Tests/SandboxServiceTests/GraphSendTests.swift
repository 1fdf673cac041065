import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Testing

@testable import SandboxService

/// The send API and the faults `POST /sandbox/faults` queues for it.
struct GraphSendTests {
    struct SendAnswer: Decodable {
        let recipient_id: String
        let message_id: String
    }

    @Test func aSendIsRecordedAndAnsweredWithAMessageID() async throws {
        try await Sandbox.app().test(.router) { client in
            let response = try await Sandbox.send(client, text: "We open at nine.")
            #expect(response.status == .ok)
            let answer = try Sandbox.decode(SendAnswer.self, response.body)
            #expect(answer.recipient_id == "customer-1")
            #expect(answer.message_id.hasPrefix("aWdfZAG1faXRlbTox"))
            #expect(String(buffer: response.body) == #"{"message_id":"\#(answer.message_id)","recipient_id":"customer-1"}"#)
            let messages = try await Sandbox.conversation(client)
            #expect(messages == [.init(direction: "out", customer_id: "customer-1", text: "We open at nine.", mid: answer.message_id)])
            #expect(try await Sandbox.conversation(client, Sandbox.other).isEmpty)
        }
    }

    @Test func aSendIsRefusedAsGraphRefusesIt() async throws {
        try await Sandbox.app().test(.router) { client in
            // Another account's token, an account nobody knows, and texts Instagram does not take.
            let cases: [(TestResponse, Int, Int?)] = [
                (try await Sandbox.send(client, token: Sandbox.otherToken), 190, nil),
                (try await Sandbox.send(client, token: "IGAA-nobody"), 190, nil),
                (try await Sandbox.send(client, account: "17841400000000999"), 100, 33),
                (try await Sandbox.send(client, text: ""), 100, 2_534_015),
                (try await Sandbox.send(client, text: String(repeating: "a", count: 1001)), 100, 2_534_015),
            ]
            for (response, code, subcode) in cases {
                #expect(response.status == .badRequest)
                let error = try Sandbox.decode(GraphErrorBody.self, response.body).error
                #expect(error.code == code && error.error_subcode == subcode && error.type == "OAuthException" && error.fbtrace_id == "SandboxTrace")
            }
            #expect(try await Sandbox.conversation(client).isEmpty)
        }
    }

    /// A fault kind and what api.md documents for it: HTTP status, Graph code and subcode, `is_transient`.
    struct Documented: Sendable, CustomTestStringConvertible {
        let kind: String
        let status: HTTPResponse.Status
        let code: Int
        let subcode: Int?
        let transient: Bool
        var testDescription: String { kind }
    }

    static let documented: [Documented] = [
        .init(kind: "token_expired", status: .badRequest, code: 190, subcode: 463, transient: false),
        .init(kind: "outside_window", status: .badRequest, code: 10, subcode: 2_534_022, transient: false),
        .init(kind: "user_unavailable", status: .badRequest, code: 551, subcode: 1_545_041, transient: false),
        .init(kind: "rate_limit", status: .badRequest, code: 4, subcode: nil, transient: true),
        .init(kind: "server_error", status: .internalServerError, code: 2, subcode: nil, transient: true),
    ]

    @Test(arguments: GraphSendTests.documented) func aFaultAnswersItsErrorOnceThenSendsGoThrough(_ fault: Documented) async throws {
        try await Sandbox.app().test(.router) { client in
            try await queue(client, #"{"kind":"\#(fault.kind)"}"#)
            let failed = try await Sandbox.send(client)
            #expect(failed.status == fault.status)
            let error = try Sandbox.decode(GraphErrorBody.self, failed.body).error
            #expect(error.code == fault.code && error.error_subcode == fault.subcode && error.is_transient == (fault.transient ? true : nil))
            #expect(try await Sandbox.send(client).status == .ok)
            // The other account's sends were never affected; the failed send was not recorded.
            #expect(try await Sandbox.send(client, token: Sandbox.otherToken, account: Sandbox.other).status == .ok)
            #expect(try await Sandbox.conversation(client).count == 1)
            #expect(try await report(client) == ["graph.\(fault.kind)": 1])
        }
    }

    @Test func aCountedFaultAppliesThatManyTimes() async throws {
        try await Sandbox.app().test(.router) { client in
            try await queue(client, #"{"kind":"server_error","count":2}"#)
            #expect(try await Sandbox.send(client).status == .internalServerError)
            #expect(try await Sandbox.send(client).status == .internalServerError)
            #expect(try await Sandbox.send(client).status == .ok)
        }
    }

    @Test func aSlowFaultAnswersLateOnce() async throws {
        try await Sandbox.app().test(.router) { client in
            try await queue(client, #"{"kind":"slow","seconds":1}"#)
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try await Sandbox.send(client).status == .ok)
            #expect(clock.now - start >= .seconds(1))
            let again = clock.now
            #expect(try await Sandbox.send(client).status == .ok)
            #expect(clock.now - again < .seconds(1))
        }
    }

    @Test func aDroppedAnswerBreaksTheConnectionButTheMessageWentOut() async throws {
        try await Sandbox.app().test(.live) { client in
            try await queue(client, #"{"kind":"drop"}"#)
            // Over AsyncHTTPClient, as GraphClient sends: the head arrives, then the connection breaks before the body.
            var request = HTTPClientRequest(url: "http://localhost:\(try #require(client.port))/v25.0/\(Sandbox.shop)/messages")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(Sandbox.shopToken)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"recipient":{"id":"customer-1"},"message":{"text":"lost answer"}}"#))
            await #expect(throws: (any Error).self) {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
                _ = try await response.body.collect(upTo: 1 << 16)
            }
            #expect(try await Sandbox.send(client, text: "second").status == .ok)
            #expect(try await Sandbox.conversation(client).map(\.text) == ["lost answer", "second"])
        }
    }

    @Test func theFaultReportCountsWhatWasAppliedAndDeleteClearsTheRest() async throws {
        try await Sandbox.app().test(.router) { client in
            try await queue(client, #"{"kind":"rate_limit"}"#, #"{"kind":"server_error","count":3}"#)
            #expect(try await Sandbox.send(client).status == .badRequest)
            #expect(try await Sandbox.send(client).status == .internalServerError)
            let cleared = try await client.execute(uri: "/sandbox/faults", method: .delete)
            #expect(String(buffer: cleared.body) == #"{"applied":{"graph.rate_limit":1,"graph.server_error":1},"cleared":2}"#)
            #expect(try await Sandbox.send(client).status == .ok)
            let report = try await client.execute(uri: "/sandbox/faults", method: .get)
            #expect(String(buffer: report.body) == #"{"applied":{"graph.rate_limit":1,"graph.server_error":1}}"#)
        }
    }

    func queue(_ client: some TestClientProtocol, _ faults: String...) async throws {
        let response = try await client.execute(
            uri: "/sandbox/faults", method: .post, headers: Sandbox.json,
            body: ByteBuffer(string: #"{"ig_id":"\#(Sandbox.shop)","faults":[\#(faults.joined(separator: ","))]}"#))
        #expect(response.status == .noContent)
    }

    struct Report: Decodable { let applied: [String: Int] }

    func report(_ client: some TestClientProtocol) async throws -> [String: Int] {
        return try Sandbox.decode(Report.self, try await client.execute(uri: "/sandbox/faults", method: .get).body).applied
    }
}
