/// The parameters of one job type: `Codable` data that names its type.
///
/// ```swift
/// struct SendEmail: JobParameters {
///     static let jobType = "send_email"
///     var to: String
/// }
/// try await broker.push(SendEmail(to: "ada@example.com"))
/// ```
public protocol JobParameters: Codable, Sendable {
    /// The job type this parameters type is enqueued and registered under.
    static var jobType: String { get }
}
