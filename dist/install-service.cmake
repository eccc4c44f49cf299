# Runs at `cmake --install` time (see CMakeLists.txt), when
# CMAKE_INSTALL_PREFIX is the prefix being installed to: writes the systemd
# units (rollmapd's and rollmap serve's) naming the installed programs and
# configuration, and installs the configuration unless the administrator
# already has one. file(INSTALL)
# adds $ENV{DESTDIR} in front of absolute destinations for staged installs.

# An absolute folder under the prefix; etc follows the GNU rule that the
# /usr prefix keeps its configuration in /etc.
function(rollmap_full_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  elseif(dir STREQUAL "etc" AND CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(${out} "/etc" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

rollmap_full_dir(CMAKE_INSTALL_FULL_BINDIR "${ROLLMAP_BINDIR}")
rollmap_full_dir(CMAKE_INSTALL_FULL_SYSCONFDIR "${ROLLMAP_SYSCONFDIR}")

foreach(name rollmapd rollmap-web)
  set(unit "${ROLLMAP_BINARY_DIR}/install/${name}.service")
  configure_file("${ROLLMAP_SOURCE_DIR}/dist/${name}.service.in" "${unit}" @ONLY)
  file(INSTALL "${unit}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endforeach()

set(conf_dir "${CMAKE_INSTALL_FULL_SYSCONFDIR}/rollmap")
set(conf "$ENV{DESTDIR}${conf_dir}/rollmapd.conf")
if(EXISTS "${conf}")
  message(STATUS "Keeping: ${conf}")
else()
  file(INSTALL "${ROLLMAP_SOURCE_DIR}/dist/rollmapd.conf" DESTINATION "${conf_dir}")
endif()
