# `tapegrad cv` on several ranks writes the cv.csv of one process, byte for byte, and prints
# its table once. Run by ctest (tests/CMakeLists.txt):
#   cmake -DTAPEGRAD=path/to/tapegrad -DLAUNCH="mpirun|-np|3|..." -DDATA=series.csv
#         -DWORK_DIR=dir -P cv_csv.cmake
# LAUNCH is the mpirun command line before the program, its words separated by "|".
string(REPLACE "|" ";" launch "${LAUNCH}")
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(cv cv --data ${DATA} --window 6 --units 2,4 --folds 3 --epochs 3 --seed 5)

function(run_cv out_file)
  execute_process(COMMAND ${ARGN} ${TAPEGRAD} ${cv} -o ${WORK_DIR}/${out_file}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${ARGN} tapegrad ${cv} failed (${code}):\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

run_cv(one.csv)
run_cv(ranks.csv ${launch})
string(REGEX MATCHALL "\nbest: " tables "${out}")
list(LENGTH tables printed)
if(NOT printed EQUAL 1)
  message(FATAL_ERROR "the table was printed ${printed} times under ${launch}, expected once:\n${out}")
endif()

file(READ ${WORK_DIR}/one.csv one HEX)
file(READ ${WORK_DIR}/ranks.csv ranks HEX)
if(NOT one STREQUAL ranks)
  file(READ ${WORK_DIR}/one.csv one)
  file(READ ${WORK_DIR}/ranks.csv ranks)
  message(FATAL_ERROR "cv.csv differs under ${launch}:\none process:\n${one}\nranks:\n${ranks}")
endif()
