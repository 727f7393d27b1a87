# The Debian package (`./dev package`, docs/install.md): the anteroom binary, its systemd unit,
# /etc/anteroom/anteroom.conf as a conffile, and the docs. Nothing else is installed: tests,
# tools and fuzz targets have no install() rule.
#
# The staging tree is laid out from the filesystem root (CPACK_PACKAGING_INSTALL_PREFIX "/"),
# so every destination below is the path on the target machine without its leading slash.

install(TARGETS anteroom RUNTIME DESTINATION usr/bin)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/anteroom.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/anteroom.conf DESTINATION etc/anteroom)

set(ANTEROOM_DOC_DIR usr/share/doc/anteroom)
file(GLOB ANTEROOM_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${ANTEROOM_DOCS} DESTINATION ${ANTEROOM_DOC_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/copyright DESTINATION ${ANTEROOM_DOC_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/secrets.env.example
  DESTINATION ${ANTEROOM_DOC_DIR}/examples)
# A native package (its version has no Debian revision: upstream does the packaging), so the
# changelog is changelog.gz, in Debian's format. Debian wants it and the manual page gzipped
# with -n (no name or time stamp: the same bytes every build). Both are made at configure
# time, so that packaging needs nothing built but the binary.
set(ANTEROOM_PKG_DIR ${CMAKE_CURRENT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${ANTEROOM_PKG_DIR})
configure_file(${PROJECT_SOURCE_DIR}/packaging/anteroom.1.in ${ANTEROOM_PKG_DIR}/anteroom.1 @ONLY)
execute_process(COMMAND gzip -9 -n -c ${ANTEROOM_PKG_DIR}/anteroom.1
  OUTPUT_FILE ${ANTEROOM_PKG_DIR}/anteroom.1.gz COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND gzip -9 -n -c ${PROJECT_SOURCE_DIR}/packaging/changelog
  OUTPUT_FILE ${ANTEROOM_PKG_DIR}/changelog.gz COMMAND_ERROR_IS_FATAL ANY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/packaging/changelog)
install(FILES ${ANTEROOM_PKG_DIR}/changelog.gz DESTINATION ${ANTEROOM_DOC_DIR})
install(FILES ${ANTEROOM_PKG_DIR}/anteroom.1.gz DESTINATION usr/share/man/man1)

# CPack's install step (and `cmake --install`) builds nothing: it packages the binary as built,
# so the package test does not rebuild the tree (`./dev package` builds the binary first).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME anteroom)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CONTACT "anteroom maintainers <maintainers@anteroom.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "virtual waiting room for ticket sales and launches")
# Lines of at most 79 characters (lintian: extended-description-line-too-long).
set(CPACK_PACKAGE_DESCRIPTION
  "anteroom puts the visitors of a sudden rush in a fair line, shows each
their place live over Server-Sent Events, lets them in at the rate the
protected site can take and hands each a signed token the site checks.
One process keeps everything in memory; many share one line through
Redis, optionally with a Kafka event pipeline. It includes a live
operator dashboard at /admin and Prometheus metrics.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # anteroom_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://anteroom.invalid/")
# Depends from the libraries the binary links (dpkg-shlibdeps, from dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# conffiles: dpkg keeps the operator's edits of /etc/anteroom/anteroom.conf on upgrade (and
# asks when the shipped file changed too). The maintainer scripts only tell systemd about the
# unit and stop the service on removal; they never start or restart it (docs/install.md).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/conffiles
  ${PROJECT_SOURCE_DIR}/packaging/postinst
  ${PROJECT_SOURCE_DIR}/packaging/prerm
  ${PROJECT_SOURCE_DIR}/packaging/postrm)
# 0644 for data, 0755 for scripts, whatever the checkout's modes (lintian checks them).
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
