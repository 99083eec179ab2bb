// Reading what gnuplot's svg terminal wrote: the drawn lines (with their stroke colour and
// points), the point markers and the text; and the size of a png.
//
// A <path> holds one or more lines, each starting at a move ("M x,y") and going on with draws
// ("L x,y"); its stroke is "rgb(r, g, b)" or a colour name. A line of length zero (a bar of
// an error of 0) is a move alone, as gnuplot writes no draw to the point it is at: it counts
// as two points at one place. The markers and patterns declared in <defs> are not drawn
// lines. A <text> holds its characters XML-escaped, and each part of enhanced text (a
// decade's "10" and its exponent "-3") is a <tspan> of its own.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace tg_test {

struct SvgLine {
  std::string stroke;  // #RRGGBB
  std::size_t points = 0;
};

// "rgb( 31, 119, 180)" or a name as "#1F77B4".
inline std::string svg_colour(const std::string& stroke) {
  static const std::regex rgb(R"(rgb\(\s*(\d+),\s*(\d+),\s*(\d+)\))");
  static const std::map<std::string, std::string> names{{"black", "#000000"}, {"white", "#FFFFFF"}};
  std::smatch m;
  if (std::regex_match(stroke, m, rgb)) {
    return fmt::format("#{:02X}{:02X}{:02X}", std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]));
  }
  const auto named = names.find(stroke);
  return named != names.end() ? named->second : stroke;
}

inline std::string without_defs(const std::string& svg) {
  static const std::regex defs(R"(<defs>[\s\S]*?</defs>)");
  return std::regex_replace(svg, defs, "");
}

inline std::vector<SvgLine> svg_polylines(const std::string& svg) {
  static const std::regex path(R"re(<path\s+stroke=['"]([^'"]*)['"]\s+d=['"]([^'"]*)['"])re");
  static const std::regex move(R"(M[^M]*)");
  const std::string drawn = without_defs(svg);
  std::vector<SvgLine> out;
  for (auto it = std::sregex_iterator(drawn.begin(), drawn.end(), path);
       it != std::sregex_iterator(); ++it) {
    const std::string stroke = svg_colour((*it)[1]), d = (*it)[2];
    for (auto m = std::sregex_iterator(d.begin(), d.end(), move); m != std::sregex_iterator();
         ++m) {
      const std::string line = m->str();
      const auto draws = static_cast<std::size_t>(std::count(line.begin(), line.end(), 'L'));
      out.push_back({stroke, 1 + std::max<std::size_t>(draws, 1)});
    }
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

inline std::string xml_unescaped(const std::string& text) {
  static const std::regex entity(R"(&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);)");
  static const std::map<std::string, char> named{
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
  std::string out;
  auto from = text.cbegin();
  for (auto e = std::sregex_iterator(text.begin(), text.end(), entity); e != std::sregex_iterator();
       ++e) {
    out.append(from, (*e)[0].first);
    const std::string name = (*e)[1];
    if (name[0] != '#') {
      out += named.at(name);
    } else {
      out += static_cast<char>(name[1] == 'x' ? std::stoi(name.substr(2), nullptr, 16)
                                              : std::stoi(name.substr(1)));
    }
    from = (*e)[0].second;
  }
  return out.append(from, text.cend());
}

// Every piece of text, decoded: one string per <text> element, or per <tspan> in it.
inline std::vector<std::string> svg_texts(const std::string& svg) {
  static const std::regex text(R"(<text[^>]*>([\s\S]*?)</text>)");
  static const std::regex tspan(R"(<tspan[^>]*>([^<]*)</tspan>)");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), text); it != std::sregex_iterator();
       ++it) {
    const std::string inner = (*it)[1];
    if (inner.find("<tspan") == std::string::npos) {
      out.push_back(xml_unescaped(inner));
      continue;
    }
    for (auto t = std::sregex_iterator(inner.begin(), inner.end(), tspan);
         t != std::sregex_iterator(); ++t) {
      out.push_back(xml_unescaped((*t)[1]));
    }
  }
  return out;
}

// A point marker: gnuplot draws each as a <use> of a symbol in <defs>, moved and scaled.
struct SvgMarker {
  double x = 0, y = 0, scale = 0;
};

// The markers in `svg` (all of them, or those of gnuplot's plot number `plot`, 1-based in the
// order of the series: the first group of that id, its data; an opaque legend repeats the id
// for its sample), in drawing order. In a file of several panels (write_line_charts) gnuplot
// numbers each panel's plots apart, with a letter per panel: plot 2 of the second is "2b".
inline std::vector<SvgMarker> svg_markers(const std::string& svg, int plot = 0,
                                          const std::string& panel = "") {
  static const std::regex use(
      R"re(<use xlink:href='#gpPt\d+' transform='translate\(([-\d.]+),([-\d.]+)\) scale\(([\d.]+)\)')re");
  std::string part = without_defs(svg);
  if (plot > 0) {
    const std::size_t start = part.find(fmt::format("<g id=\"gnuplot_plot_{}{}\"", plot, panel));
    if (start == std::string::npos) return {};
    // To the group's own end, past the groups nested in it.
    static const std::regex tag(R"(<g[\s>]|</g>)");
    int depth = 0;
    std::size_t end = std::string::npos;
    for (auto it = std::sregex_iterator(part.begin() + static_cast<std::ptrdiff_t>(start),
                                        part.end(), tag);
         it != std::sregex_iterator(); ++it) {
      depth += it->str() == "</g>" ? -1 : 1;
      if (depth == 0) {
        end = start + static_cast<std::size_t>(it->position());
        break;
      }
    }
    part = part.substr(start, end == std::string::npos ? std::string::npos : end - start);
  }
  std::vector<SvgMarker> out;
  for (auto it = std::sregex_iterator(part.begin(), part.end(), use); it != std::sregex_iterator();
       ++it) {
    out.push_back({std::stod((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3])});
  }
  return out;
}

// A png's width and height in pixels, from its IHDR chunk (big-endian, bytes 16 to 23).
inline std::pair<std::uint32_t, std::uint32_t> png_size(const std::string& png) {
  const auto word = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png[at + i]);
    return v;
  };
  return png.size() < 24 ? std::pair<std::uint32_t, std::uint32_t>{0, 0}
                         : std::pair{word(16), word(20)};
}

}  // namespace tg_test
