// Reading what PLplot's svg device wrote: the drawn lines (one <polyline> each, with its
// stroke colour and points) and the text, whose characters it writes as &#xNN; entities.
#pragma once

#include <algorithm>
#include <cstddef>
#include <regex>
#include <string>
#include <vector>

namespace tg_test {

struct SvgLine {
  std::string stroke;
  std::size_t points = 0;
};

inline std::vector<SvgLine> svg_polylines(const std::string& svg) {
  static const std::regex polyline(R"(<polyline([^/]*)/>)");
  static const std::regex stroke(R"re(stroke="(#[0-9A-Fa-f]{6})")re");
  static const std::regex points(R"re(points="([^"]*)")re");
  std::vector<SvgLine> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline);
       it != std::sregex_iterator(); ++it) {
    const std::string body = (*it)[1];
    std::smatch s, p;
    std::regex_search(body, s, stroke);
    std::regex_search(body, p, points);
    // Points are "x,y" pairs, separated by spaces and line breaks.
    const std::string pts = p[1];
    const auto n = static_cast<std::size_t>(std::count(pts.begin(), pts.end(), ','));
    out.push_back({s[1], n});
  }
  return out;
}

// The lines drawn in colour (not the black frame and ticks, not the white legend box).
inline std::vector<SvgLine> svg_coloured_lines(const std::string& svg) {
  std::vector<SvgLine> out;
  for (const SvgLine& l : svg_polylines(svg)) {
    if (l.stroke != "#000000" && l.stroke != "#FFFFFF") out.push_back(l);
  }
  return out;
}

// Every <text> element's characters, decoded, one string per element.
inline std::vector<std::string> svg_texts(const std::string& svg) {
  static const std::regex text(R"(<text[^>]*>(.*?)</text>)");
  static const std::regex entity(R"(&#x([0-9A-Fa-f]+);)");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), text); it != std::sregex_iterator();
       ++it) {
    const std::string inner = (*it)[1];
    std::string decoded;
    for (auto e = std::sregex_iterator(inner.begin(), inner.end(), entity);
         e != std::sregex_iterator(); ++e) {
      decoded += static_cast<char>(std::stoi((*e)[1], nullptr, 16));
    }
    out.push_back(decoded);
  }
  return out;
}

}  // namespace tg_test
