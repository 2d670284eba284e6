/// One line of a chart: a name for the legend and its points in data coordinates.
struct ChartSeries {
    var name: String
    var points: [(x: Double, y: Double)]
    /// CSS colour of the line and its markers.
    var color: String
    var dashed = false
    /// Draw a marker at each point; `hollow[i]` draws point i as an open circle (a sweep step
    /// that was not held).
    var markers = false
    var hollow: [Bool] = []
}
