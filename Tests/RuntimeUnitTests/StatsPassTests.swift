import Testing

@testable import Runtime

/// A stats pass split over the cores answers exactly what a pass in one go answers: every item once,
/// in the items' order, whatever the count.
@Suite struct StatsPassTests {
  @Test(arguments: [0, 1, 15, 16, 17, 31, 32, 33, 110, 250, 1001])
  func everyItemOnceInOrder(count: Int) async {
    let items = Array(0..<count)
    let results = await StatsPass.map(items) { item in item * 3 }
    #expect(results == items.map { $0 * 3 })
  }
}
