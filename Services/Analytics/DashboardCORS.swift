import FlowtalkHTTP
import HTTPTypes
import Hummingbird

/// CORS for the dashboard's origin only (the dashboard is served by auth, on another origin), with credentials so the
/// session cookie goes along. Error answers (401, 400) carry the headers too, so the dashboard can read why; any other
/// origin gets no CORS headers at all and the browser keeps the answer from it.
struct DashboardCORSMiddleware<Context: RequestContext>: RouterMiddleware {
    let origin: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.headers[.origin] == origin else { return try await next(request, context) }
        var response: Response
        if request.method == .options {
            response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = "GET, HEAD, OPTIONS"
            response.headers[.accessControlAllowHeaders] = "Content-Type"
            response.headers[.accessControlMaxAge] = "600"
        } else {
            do {
                response = try await next(request, context)
            } catch {
                response = try ErrorMiddleware<Context>.translate(error, context: context).response(from: request, context: context)
            }
        }
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlAllowCredentials] = "true"
        response.headers[values: .vary].append("Origin")
        return response
    }
}
