# PPInstall.cmake: install rules for files that must name the *installed* paths.
#
# Owns pp_install_generated(). Why at install time and not with configure_file() at configure
# time: `cmake --install BUILD --prefix P` (and DESTDIR staging) can change the prefix after
# configuring, and a pkg-config file or a unit naming the configured prefix would then point
# at files that are not there. The generated copy is written into the build dir during the
# install step, with the prefix the install step really uses, then installed with
# file(INSTALL) (which honours DESTDIR and records the file in install_manifest.txt).
include_guard(GLOBAL)
include(GNUInstallDirs)

# A cache entry: directory-scope variables are not seen by sibling directories, and the
# include guard skips this file the second time.
set(PP_INSTALL_SCRIPT_IN ${CMAKE_CURRENT_LIST_DIR}/pp_install_generated.cmake.in
    CACHE INTERNAL "template of the install-time generator script")

# pp_install_generated(SOURCE <file> DESTINATION <dir relative to the prefix>
#                      MODE CONFIGURE|UNIT [RENAME <name>])
#   CONFIGURE: configure_file(@ONLY) with @prefix@, @exec_prefix@, @bindir@, @libdir@,
#              @includedir@ (absolute, install-time) and @PROJECT_VERSION@.
#   UNIT:      a systemd unit: "ExecStart=/usr/bin/" becomes "ExecStart=<bindir>/" (the
#              units in deploy/ name /usr/bin, the Debian package's path); the install fails
#              when the unit has no such line, so a renamed path cannot slip through.
function(pp_install_generated)
  cmake_parse_arguments(A "" "SOURCE;DESTINATION;MODE;RENAME" "" ${ARGN})
  if(NOT A_SOURCE OR NOT A_DESTINATION OR NOT A_MODE MATCHES "^(CONFIGURE|UNIT)$")
    message(FATAL_ERROR "pp_install_generated: SOURCE, DESTINATION and MODE are required")
  endif()
  get_filename_component(src "${A_SOURCE}" ABSOLUTE)
  if(A_RENAME)
    set(name "${A_RENAME}")
  else()
    get_filename_component(name "${src}" NAME)
    string(REGEX REPLACE "\\.in$" "" name "${name}")
  endif()
  set(PP_GEN_SOURCE "${src}")
  set(PP_GEN_NAME "${name}")
  set(PP_GEN_DESTINATION "${A_DESTINATION}")
  set(PP_GEN_MODE "${A_MODE}")
  set(PP_GEN_WORK "${CMAKE_CURRENT_BINARY_DIR}/pp-generated")
  set(script "${CMAKE_CURRENT_BINARY_DIR}/pp-install-${name}.cmake")
  configure_file(${PP_INSTALL_SCRIPT_IN} ${script} @ONLY)
  install(SCRIPT ${script})
endfunction()
