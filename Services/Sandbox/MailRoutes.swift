import FlowtalkHTTP
import Foundation
import Hummingbird

/// The SMTP catcher's HTTP side: the mail it received, and faults for the next recipients.
struct MailRoutes: Sendable {
    let mailbox: Mailbox

    /// `{"messages":[…]}`, oldest first.
    struct Messages: Encodable {
        let messages: [CaughtMail]
    }

    /// `POST /sandbox/mail/faults`: the next `count` recipients (default 1) are answered with `code` (400…599).
    struct Faults: Decodable {
        let code: Int
        let count: Int?
    }

    struct Cleared: Encodable {
        let cleared: Int
    }

    func add(to router: Router<SandboxRequestContext>) {
        router.get("/sandbox/mail") { request, _ -> Response in
            try SandboxJSON.response(Messages(messages: mailbox.mails(to: request.uri.queryParameters.get("to"))))
        }
        router.delete("/sandbox/mail") { _, _ -> Response in try SandboxJSON.response(Cleared(cleared: mailbox.clear())) }
        router.post("/sandbox/mail/faults") { request, context -> Response in
            let faults = try await request.decode(as: Faults.self, context: context)
            let count = faults.count ?? 1
            guard (400...599).contains(faults.code), (1...100).contains(count) else {
                throw APIError.badRequest("code must be an SMTP error code (400-599) and count 1-100", code: "invalid_fault")
            }
            mailbox.addFaults(Array(repeating: faults.code, count: count))
            return Response(status: .noContent)
        }
    }
}
