import Conveyor

extension Document {
    /// A `jobs` or `job_events` document as the API and the CLI show it: `plainJSONObject`, with a
    /// payload or result that the writer kept as JSON text (`payload_json`, `result_json`: see
    /// `HistoryEvent.element(_:)`) shown under `payload` / `result` as the JSON it was, numbers as
    /// written.
    public var historyJSONObject: [String: Any] {
        var object = plainJSONObject
        for field in ["payload", "result"] {
            let textField = field + HistoryEvent.jsonTextSuffix
            guard let text = object[textField] as? String else { continue }
            object[textField] = nil
            object[field] = JSONText.object(text)
        }
        return object
    }
}
