// Whether a stream shows on a terminal, for progress displays that redraw one line with '\r'
// there and write whole lines anywhere else (a file, a pipe, a string), as Keras does.
#pragma once

#include <ostream>
#include <string>

namespace tapegrad {

// std::cout, or std::cerr / std::clog, whose file descriptor is a TTY; any other stream
// cannot say, and counts as no terminal.
bool is_terminal(const std::ostream& out);

// "25s", "3:05", "1:02:05": a duration as Keras's progress bar shows an ETA.
std::string clock_time(double seconds);

}  // namespace tapegrad
