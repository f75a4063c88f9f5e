# The include layering rule (cmake/check_layering.sh): controller/ and agent/ never include each
# other, cli/ includes neither, common/ includes none of them. Checked on every build (target
# check_layering is part of `all`, re-run whenever a source under those folders changes or is
# added) and by CTest (unit:layering, tests/CMakeLists.txt). A violation fails the build with
# file:line of each offending #include.
set(MINICLOUD_LAYERING_SCRIPT ${PROJECT_SOURCE_DIR}/cmake/check_layering.sh)
set(_layered_globs)
foreach(dir agent controller cli common volume guest)
  foreach(ext h cc hpp cpp)
    list(APPEND _layered_globs ${PROJECT_SOURCE_DIR}/${dir}/*.${ext})
  endforeach()
endforeach()
file(GLOB_RECURSE _layered_sources CONFIGURE_DEPENDS ${_layered_globs})
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/layering.ok
  COMMAND ${MINICLOUD_LAYERING_SCRIPT} ${PROJECT_SOURCE_DIR}
  COMMAND ${CMAKE_COMMAND} -E touch ${PROJECT_BINARY_DIR}/layering.ok
  DEPENDS ${MINICLOUD_LAYERING_SCRIPT} ${_layered_sources}
  COMMENT "Checking the include layering (cmake/check_layering.sh)"
  VERBATIM)
add_custom_target(check_layering ALL DEPENDS ${PROJECT_BINARY_DIR}/layering.ok)
