import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The sandbox's own routes (`/sandbox/...`): accounts, and the Graph send faults with their report. (Groq's faults
/// are with Groq, `GroqRoutes`.)
struct SandboxControlRoutes: Sendable {
    let state: SandboxState

    /// `POST /sandbox/faults`: faults for the next sends of one account.
    struct Faults: Decodable {
        let ig_id: String
        let faults: [Fault]
    }

    /// `{"applied":{"graph.server_error":3,…},"cleared":n}` (`cleared` only from DELETE).
    struct Report: Encodable {
        let applied: [String: Int]
        let cleared: Int?
    }

    func add(to router: Router<SandboxRequestContext>) {
        router.post("/sandbox/accounts") { request, context -> Response in
            let account = try await request.decode(as: SandboxAccount.self, context: context)
            await state.register(account)
            return Response(status: .created)
        }
        router.post("/sandbox/faults") { request, context -> Response in
            let body = try await request.decode(as: Faults.self, context: context)
            await state.addFaults(body.faults, account: body.ig_id)
            return Response(status: .noContent)
        }
        // Fault-injection runs: how many faults were applied, by kind; DELETE also drops those not applied yet.
        router.get("/sandbox/faults") { _, _ -> Response in try SandboxJSON.response(Report(applied: await state.appliedFaults, cleared: nil)) }
        router.delete("/sandbox/faults") { _, _ -> Response in
            let cleared = await state.clearFaults()
            return try SandboxJSON.response(Report(applied: await state.appliedFaults, cleared: cleared))
        }
    }
}
