# `vipd check` on a file with three errors: exit 1 and one FILE:LINE:COL line for each.
execute_process(COMMAND ${VIPD} check -c ${CONFIG} RESULT_VARIABLE rc ERROR_VARIABLE err
                OUTPUT_VARIABLE out)
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "vipd check exited ${rc}, expected 1\n${err}")
endif()
foreach(expected
        "broken.toml:3:1: error: unknown key 'log_levl' in \\[agent\\] \\(did you mean 'log_level'\\?\\)"
        "broken.toml:9:12: error: 'priority' must be an integer"
        "broken.toml:11:[0-9]+: error: track refers to check 'nginx-htp', which no \\[\\[check\\]\\] defines \\(did you mean 'nginx-http'\\?\\)")
  if(NOT err MATCHES "${expected}")
    message(FATAL_ERROR "missing diagnostic matching: ${expected}\n--- got:\n${err}")
  endif()
endforeach()
message(STATUS "vipd check reported every error:\n${err}")
