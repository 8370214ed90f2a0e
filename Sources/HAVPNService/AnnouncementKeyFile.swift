import HAVPNControl
import HAVPNModel
import HAVPNNetlink

/// Reads the shared HMAC key of announcements (`announcements.keyFile`): a missing, unreadable,
/// empty or oversized file is one `HAVPNError` line naming the file; the key's bytes never appear in it.
func readAnnouncementKey(path: String) throws(HAVPNError) -> AnnouncementKey {
    let what = "announcement key file"
    let key = try FileContents.read(path, what: what, keyPath: "announcements.keyFile", limit: 65536)
    guard !key.isEmpty else {
        throw HAVPNError(.invalidValue, "the \(what) is empty", keyPath: "announcements.keyFile", object: path)
    }
    return AnnouncementKey(key)
}
