import CoreMetrics
import Dispatch
import Hummingbird
import Logging
import Tracing

/// Every request's metrics and log line: `flowtalk_http_requests_total{method, route, status}` and
/// `flowtalk_http_request_duration_seconds{method, route}`, and one structured log entry (method, route, status,
/// duration). The route is the matched pattern (`/api/customers/{igsid}`, never the id), `unmatched` otherwise; a query
/// string or a body is never logged or labelled. Outermost in the router, so it sees the status errors become.
struct RequestObservabilityMiddleware<Context: RequestContext>: RouterMiddleware {
    let factory: any MetricsFactory

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Probes and scrapes are not traced (they would drown the traces); everything else is a server span named after
        // its route once it is known ("POST /webhooks/instagram"), with the method, route and status, never a query.
        let path = request.uri.path
        if path == "/healthz" || path == "/readyz" || path == "/metrics" { return try await observe(request, context: context, next: next) }
        return try await withSpan("\(request.method.rawValue) request", ofKind: .server) { span in
            do {
                let response = try await observe(request, context: context, next: next)
                annotate(span, request, context, status: response.status)
                return response
            } catch {
                annotate(span, request, context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError)
                throw error
            }
        }
    }

    private func annotate(_ span: any Span, _ request: Request, _ context: Context, status: HTTPResponse.Status) {
        let route = context.endpointPath.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "unmatched"
        span.operationName = "\(request.method.rawValue) \(route)"
        span.attributes["http.request.method"] = request.method.rawValue
        span.attributes["http.route"] = route
        span.attributes["http.response.status_code"] = Int(status.code)
        if status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
    }

    private func observe(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            record(request, context, status: status, start: start)
            throw error
        }
        record(request, context, status: response.status, start: start)
        return response
    }

    private func record(_ request: Request, _ context: Context, status: HTTPResponse.Status, start: UInt64) {
        let nanoseconds = DispatchTime.now().uptimeNanoseconds - start
        // Hummingbird names a request no route matched "NotFound" (or nothing): one label for all of them.
        let route = context.endpointPath.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "unmatched"
        let method = request.method.rawValue
        Counter(label: "flowtalk_http_requests_total", dimensions: [("method", method), ("route", route), ("status", "\(status.code)")], factory: factory)
            .increment()
        Timer(label: "flowtalk_http_request_duration_seconds", dimensions: [("method", method), ("route", route)], preferredDisplayUnit: .seconds, factory: factory)
            .recordNanoseconds(Int64(nanoseconds))
        // Health probes every few seconds would drown the log: they are logged at debug.
        let level: Logger.Level = route == "/healthz" || route == "/readyz" || route == "/metrics" ? .debug : .info
        context.logger.log(level: level, "Request", metadata: [
            "http.method": "\(method)", "http.route": "\(route)", "http.status": "\(status.code)",
            "http.duration_ms": "\(nanoseconds / 1_000_000)",
        ])
    }
}
