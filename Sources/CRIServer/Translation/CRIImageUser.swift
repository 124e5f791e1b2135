import Foundation

/// The `USER` of an image config as CRI reports it: a numeric user as `uid`, a named one as `username`;
/// the group part (`1003:1004`, `www-data:1004`) does not change which.
struct CRIImageUser: Sendable {
  var uid: Int64?
  var username = ""

  init(configJSON: [UInt8]) {
    guard let object = try? JSONSerialization.jsonObject(with: Data(configJSON)) as? [String: Any],
      let runtime = object["config"] as? [String: Any], let user = runtime["User"] as? String, !user.isEmpty
    else { return }
    let name = user.split(separator: ":", maxSplits: 1).first.map(String.init) ?? user
    if let number = Int64(name) { uid = number } else { username = name }
  }
}
