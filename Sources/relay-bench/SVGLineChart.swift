/// A line chart as a standalone SVG document, written by hand (no libraries): title lines,
/// a framed plot area with grid lines, ticks and tick labels on both axes, axis titles with
/// units, one polyline per series and a legend to the right of the plot.
struct SVGLineChart {
    var title: [String]
    var xAxis: ChartAxis
    var yAxis: ChartAxis
    var series: [ChartSeries]
    /// Extra legend lines under the series (e.g. what a hollow marker means).
    var notes: [String] = []
    var width = 820.0
    var height = 480.0

    /// The plot area in SVG pixels; every data point is drawn inside it.
    var plotArea: (left: Double, top: Double, right: Double, bottom: Double) {
        (left: 78, top: 28 + 17 * Double(title.count), right: width - 190, bottom: height - 58)
    }

    /// SVG pixel position of a data point (y grows downwards in SVG).
    func position(x: Double, y: Double) -> (x: Double, y: Double) {
        let a = plotArea
        return (a.left + xAxis.fraction(x) * (a.right - a.left), a.bottom - yAxis.fraction(y) * (a.bottom - a.top))
    }

    func render() -> String {
        let a = plotArea
        let c = SVGText.coordinate
        var out: [String] = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(c(width))\" height=\"\(c(height))\" viewBox=\"0 0 \(c(width)) \(c(height))\" font-family=\"sans-serif\">",
            "<rect x=\"0\" y=\"0\" width=\"\(c(width))\" height=\"\(c(height))\" fill=\"white\"/>",
        ]
        for (i, line) in title.enumerated() {
            let weight = i == 0 ? " font-weight=\"bold\"" : ""
            out.append("<text class=\"title\" x=\"\(c(a.left))\" y=\"\(c(20 + 17 * Double(i)))\" font-size=\"\(i == 0 ? 15 : 12)\"\(weight)>\(SVGText.escape(line))</text>")
        }
        // Grid and ticks.
        for t in xAxis.ticks() {
            let x = position(x: t.value, y: yAxis.min).x
            out.append("<line x1=\"\(c(x))\" y1=\"\(c(a.top))\" x2=\"\(c(x))\" y2=\"\(c(a.bottom))\" stroke=\"#e0e0e0\"/>")
            out.append("<line x1=\"\(c(x))\" y1=\"\(c(a.bottom))\" x2=\"\(c(x))\" y2=\"\(c(a.bottom + 5))\" stroke=\"black\"/>")
            out.append("<text class=\"tick\" x=\"\(c(x))\" y=\"\(c(a.bottom + 18))\" font-size=\"11\" text-anchor=\"middle\">\(SVGText.escape(t.label))</text>")
        }
        for t in yAxis.ticks() {
            let y = position(x: xAxis.min, y: t.value).y
            out.append("<line x1=\"\(c(a.left))\" y1=\"\(c(y))\" x2=\"\(c(a.right))\" y2=\"\(c(y))\" stroke=\"#e0e0e0\"/>")
            out.append("<line x1=\"\(c(a.left - 5))\" y1=\"\(c(y))\" x2=\"\(c(a.left))\" y2=\"\(c(y))\" stroke=\"black\"/>")
            out.append("<text class=\"tick\" x=\"\(c(a.left - 8))\" y=\"\(c(y + 4))\" font-size=\"11\" text-anchor=\"end\">\(SVGText.escape(t.label))</text>")
        }
        out.append("<rect x=\"\(c(a.left))\" y=\"\(c(a.top))\" width=\"\(c(a.right - a.left))\" height=\"\(c(a.bottom - a.top))\" fill=\"none\" stroke=\"black\"/>")
        // Axis titles.
        out.append("<text class=\"axis-title\" x=\"\(c((a.left + a.right) / 2))\" y=\"\(c(a.bottom + 40))\" font-size=\"12\" text-anchor=\"middle\">\(SVGText.escape(xAxis.title))</text>")
        let midY = (a.top + a.bottom) / 2
        out.append("<text class=\"axis-title\" x=\"\(c(18))\" y=\"\(c(midY))\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(c(midY)))\">\(SVGText.escape(yAxis.title))</text>")
        // Series.
        for s in series where !s.points.isEmpty {
            let pts = s.points.map { position(x: $0.x, y: $0.y) }
            let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
            out.append("<polyline class=\"series\" points=\"\(pts.map { "\(c($0.x)),\(c($0.y))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(dash)/>")
            if s.markers {
                for (i, p) in pts.enumerated() {
                    let open = i < s.hollow.count && s.hollow[i]
                    out.append("<circle class=\"marker\" cx=\"\(c(p.x))\" cy=\"\(c(p.y))\" r=\"3.5\" fill=\"\(open ? "white" : s.color)\" stroke=\"\(s.color)\" stroke-width=\"1.5\"/>")
                }
            }
        }
        // Legend.
        var ly = a.top + 8
        let lx = a.right + 16
        for s in series {
            let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
            out.append("<line x1=\"\(c(lx))\" y1=\"\(c(ly))\" x2=\"\(c(lx + 26))\" y2=\"\(c(ly))\" stroke=\"\(s.color)\" stroke-width=\"2\"\(dash)/>")
            out.append("<text class=\"legend\" x=\"\(c(lx + 32))\" y=\"\(c(ly + 4))\" font-size=\"12\">\(SVGText.escape(s.name))</text>")
            ly += 20
        }
        for note in notes {
            for line in SVGText.wrap(note, width: 26) {
                out.append("<text class=\"legend\" x=\"\(c(lx))\" y=\"\(c(ly + 4))\" font-size=\"11\" fill=\"#555555\">\(SVGText.escape(line))</text>")
                ly += 15
            }
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}
