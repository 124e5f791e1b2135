import NIOHPACK

/// Request headers with one part changed from a valid unary call's.
struct HPACKHeadersLike {
  var path = FakeMethods.unary
  var method = "POST"
  var contentType: String? = "application/grpc"

  var value: HPACKHeaders { CallDriver.requestHeaders(path, method: method, contentType: contentType) }
}
