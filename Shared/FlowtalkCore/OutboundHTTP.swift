import AsyncHTTPClient

extension HTTPClient {
    /// The client every call to Instagram and Groq goes through: the shared client's settings with async-http-client's
    /// own tracing off. Its spans would carry full URLs (Meta's token routes take the token and the app secret in the
    /// query, the User Profile API a customer's id in the path) and it would send `traceparent` to Meta and Groq;
    /// Flowtalk's own spans (`instagram.send_message`, `groq.chat_completion`) name each call without either.
    /// Lives as long as the process, like `HTTPClient.shared`.
    package static let outbound: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
