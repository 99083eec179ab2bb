# The `layering` test: every #include <tapegrad/FOLDER/...> in a layer's sources names that
# layer or one it may use (cmake/layers.cmake), and tools/ folders use the library, not each
# other, except the program, which uses them all, and the experiments, which use viz. Prints
# each include that points up.
#   cmake -DSOURCE_DIR=<repo> -P cmake/check_layers.cmake
cmake_minimum_required(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/layers.cmake)
set(TAPEGRAD_TOOLS viz bench run experiments cli)
foreach(tool IN LISTS TAPEGRAD_TOOLS)
  set(TAPEGRAD_USES_tools/${tool} ${TAPEGRAD_LAYERS} tools/${tool})
endforeach()
list(APPEND TAPEGRAD_USES_tools/cli tools/viz tools/bench tools/run tools/experiments)
# An experiment measures with the gradient-flow report and draws its charts.
list(APPEND TAPEGRAD_USES_tools/experiments tools/viz)

set(broken 0)
foreach(folder IN LISTS TAPEGRAD_LAYERS ITEMS tools/viz tools/bench tools/run tools/experiments
                                            tools/cli)
  set(allowed ${folder} ${TAPEGRAD_USES_${folder}})
  file(GLOB files ${SOURCE_DIR}/${folder}/*.hpp ${SOURCE_DIR}/${folder}/*.cpp)
  foreach(file IN LISTS files)
    file(STRINGS ${file} includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]tapegrad/")
    foreach(line IN LISTS includes)
      string(REGEX MATCH "tapegrad/(tools/[a-z_]+|[a-z_]+)/" match "${line}")
      set(used "${CMAKE_MATCH_1}")
      if(match AND NOT used IN_LIST allowed)
        file(RELATIVE_PATH where ${SOURCE_DIR} ${file})
        string(REPLACE ";" ", " uses "${allowed}")
        message("${where}: ${line}  (${folder} may use: ${uses})")
        math(EXPR broken "${broken} + 1")
      endif()
    endforeach()
  endforeach()
endforeach()
if(broken)
  message(FATAL_ERROR "layering: ${broken} include(s) point up the layers of DESIGN.md")
endif()
message("layering: every include points down")
