# xborder-install.cmake — what `cmake --install` puts where, and the Debian package CPack builds.
#
# Owns: install() rules for everything but the binary's own target rule (adapter/CMakeLists.txt),
# the data-directory compile definitions the binary falls back to once its build tree is gone,
# man-page compression, and the CPack DEB settings (name, dependencies via dpkg-shlibdeps,
# maintainer scripts from scripts/packaging/).
# Never: changes how the build tree itself behaves: the tests keep using the source-tree XSDs and
# catalogs unless XB_SCHEMA_DIR_DEFAULT / XB_CATALOG_DIR_DEFAULT are set at configure time (the
# package build sets them to the installed paths, see scripts/test-install).
include(GNUInstallDirs)

set(XB_CATALOG_DIR_DEFAULT "${CMAKE_SOURCE_DIR}/fixtures/catalogs" CACHE PATH
    "Directory of the default rule catalog(s) `xborder --version` reports")
set(XB_DATA_DIR_INSTALLED "${CMAKE_INSTALL_FULL_DATADIR}/xborder")

# The binary prefers its build-time paths and falls back to the installed copies when those are
# gone (a `cmake --install` from a build tree that was later deleted).
target_compile_definitions(xb_iso20022 PRIVATE
                           XB_SCHEMA_DIR_INSTALLED="${XB_DATA_DIR_INSTALLED}/schemas")
target_compile_definitions(xb_adapter PRIVATE
                           XB_CATALOG_DIR_DEFAULT="${XB_CATALOG_DIR_DEFAULT}"
                           XB_CATALOG_DIR_INSTALLED="${XB_DATA_DIR_INSTALLED}/catalogs")

# ---- data -------------------------------------------------------------------------------------
install(DIRECTORY ${CMAKE_SOURCE_DIR}/iso20022/schemas/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/xborder/schemas
        FILES_MATCHING PATTERN "*.xsd" PATTERN "SOURCES.md")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/fixtures/catalogs/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/xborder/catalogs
        FILES_MATCHING PATTERN "*.yaml" PATTERN "*.sig" PATTERN "*.pub.pem")

# ---- configuration example and systemd unit -----------------------------------------------------
set(XB_PKG_DIR ${CMAKE_SOURCE_DIR}/scripts/packaging)
configure_file(${XB_PKG_DIR}/xborder.service.in ${CMAKE_BINARY_DIR}/packaging/xborder.service @ONLY)
configure_file(${XB_PKG_DIR}/xborder.yaml.example.in ${CMAKE_BINARY_DIR}/packaging/xborder.yaml.example
               @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/xborder.yaml.example
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/xborder)
install(FILES ${CMAKE_BINARY_DIR}/packaging/xborder.service DESTINATION lib/systemd/system)

# ---- man pages (gzip -n: reproducible, as Debian wants them) ----------------------------------
find_program(XB_GZIP gzip REQUIRED)
file(GLOB XB_MAN_PAGES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/man/*.1)
set(XB_MAN_GZ "")
foreach(page ${XB_MAN_PAGES})
  get_filename_component(name ${page} NAME)
  set(gz ${CMAKE_BINARY_DIR}/man/${name}.gz)
  add_custom_command(OUTPUT ${gz}
                     COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
                     COMMAND ${XB_GZIP} -9nc ${page} > ${gz}
                     DEPENDS ${page} VERBATIM)
  list(APPEND XB_MAN_GZ ${gz})
endforeach()
add_custom_target(xb_man ALL DEPENDS ${XB_MAN_GZ})
install(FILES ${XB_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# ---- documentation for operators -----------------------------------------------------------------
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/configuration.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/docs/ops/grafana-dashboard.json ${CMAKE_SOURCE_DIR}/docs/ops/alerts.yaml
              ${CMAKE_SOURCE_DIR}/docs/ops/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/ops)
install(FILES ${XB_PKG_DIR}/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- Debian package ---------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME xborder)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "xborder maintainers <xborder@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "cross-border ISO 20022 messaging adapter with China data-export rules")
set(CPACK_PACKAGE_DESCRIPTION
    "xborder reads ISO 20022 messages from Kafka, classifies them field by field under China's\n\
financial data-export rules, delivers what may leave to overseas HTTPS endpoints with mutual TLS,\n\
settles transfers in renminbi and keeps a tamper-evident audit log a regulator can replay.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON) # debug info stays in the build tree
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${XB_PKG_DIR}/postinst ${XB_PKG_DIR}/prerm ${XB_PKG_DIR}/postrm ${XB_PKG_DIR}/conffiles)
include(CPack)
