# Fails when a file in ${DIR} (the folder of control/${ROOM}) includes a control header from a
# room outside ${ALLOWED}, a comma-separated list (see the order in control/CMakeLists.txt).
cmake_minimum_required(VERSION 3.25)
string(REPLACE "," ";" allowed "${ALLOWED}")
file(GLOB files ${DIR}/*.cpp ${DIR}/*.hpp)
foreach(file IN LISTS files)
  file(STRINGS ${file} includes REGEX "^#include \"control/")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^#include \"control/([a-z_]+)/.*" "\\1" used "${line}")
    if(NOT used IN_LIST allowed)
      message(FATAL_ERROR "${file}: ${line}\n"
        "control/${ROOM} may include only control/{${ALLOWED}}; "
        "see the order of the rooms in control/CMakeLists.txt")
    endif()
  endforeach()
endforeach()
