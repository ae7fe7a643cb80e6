# Gives the weak functions that an object compiled for the haswell kernel (decode/isa.h) shares by
# name with other objects (inline functions of the standard library or of simdjson's common code,
# instantiated here and so compiled for AVX2) a name of their own, `<name>.isa_haswell`, in
# definitions and references alike. Otherwise the linker keeps one copy of each such function for
# the whole program and could hand the AVX2 copy to baseline code on a CPU without AVX2. Functions
# of our own kernel namespace or of simdjson::haswell are unique already and keep their names.
# Run before the archive is built; idempotent.
# Usage: cmake -DNM=nm -DOBJCOPY=objcopy -DOBJECTS="a.o;b.o" -P isolate_isa_symbols.cmake
foreach(object IN LISTS OBJECTS)
  if(object STREQUAL "")
    continue()
  endif()
  execute_process(COMMAND ${NM} --defined-only ${object} OUTPUT_VARIABLE symbols
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${object}")
  endif()
  string(REPLACE "\n" ";" lines "${symbols}")
  set(renames)
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^[0-9a-f]+ [Ww] ([^ ]+)$")
      continue()  # strong symbols are ours; V/u are data (vtables, typeinfo, tables)
    endif()
    set(name "${CMAKE_MATCH_1}")
    if(name MATCHES "11isa_haswell|8simdjson7haswell|\\.isa_haswell$")
      continue()
    endif()
    list(APPEND renames "--redefine-sym=${name}=${name}.isa_haswell")
  endforeach()
  if(renames)
    execute_process(COMMAND ${OBJCOPY} ${renames} ${object} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${OBJCOPY} failed on ${object}")
    endif()
  endif()
endforeach()
