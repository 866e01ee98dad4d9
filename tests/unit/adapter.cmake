# Unit tests of adapter/ building blocks that are not a subsystem of their own.
xb_unit_test(test_yaml_tree SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_yaml_tree.c LIBS xb_yaml)
