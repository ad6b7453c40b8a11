# SPDX-License-Identifier: MIT
# lamina tests: the objects of a program built against lamina::compiled define none of the model's machinery.
# Usage: cmake -DNM=<nm> -DOBJECTS=<object;...> -P check_objects.cmake
# A function these objects define (nm: T, t, W or w) whose name is one of the patterns below
# means that a translation unit with LAMINA_COMPILED compiled what lamina::compiled holds: an
# extern template declaration is missing or comes after the first use, or the member is inline.
# Destructors are left out: the model's implicit destructor, inline in every unit that destroys
# a model, destroys its members (clang emits theirs, GCC inlines them).
set(machinery
    "lamina::Sequential<(float|double)>::(fit|evaluate|predict|train_on_batch|loss_and_gradient|save|to_bytes|from_bytes|load_weights|add)\\("
    "lamina::Sequential<(float|double)>::Sequential\\(std::initializer_list"
    "lamina::detail::(FitLoop|TrainingStep|Inference|ModelMapping|LayerStack)<"
    "lamina::detail::(DenseLayer|ElementwiseActivation|SoftmaxActivation|DropoutLayer|FlattenLayer|ReshapeLayer|Conv2DLayer|Pool2DLayer|GlobalAveragePooling2DLayer|BatchNormalizationLayer)<"
    "lamina::detail::(SgdState|AdamState|RmspropState|AdagradState)<"
    "lamina::(Dense|Activation|Dropout|Flatten|Reshape|LayerFromConfig|Conv2D|Pooling2D<.*>|GlobalAveragePooling2D|BatchNormalization)::build<"
    "lamina::(SGD|Adam|RMSprop|Adagrad)::build<"
    "lamina::LayerRegistry<(float|double)>::(instance|LayerRegistry)\\("
    "lamina::(load_keras_model|to_keras_bytes|save_keras|save_keras_weights|load_keras_weights)<"
    "lamina::detail::keras::"
    "lamina::detail::(avx2|avx512)::"
    "lamina::detail::float_kernels(_for)?\\(")
set(found "")
foreach(object IN LISTS OBJECTS)
  execute_process(COMMAND ${NM} -C ${object} OUTPUT_VARIABLE symbols RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${NM} -C ${object} failed")
  endif()
  # One list element per line: no ; or [ ] left that would join lines (operator[], [abi:cxx11]).
  string(REGEX REPLACE "[][;]" "_" symbols "${symbols}")
  string(REPLACE "\n" ";" lines "${symbols}")
  foreach(line IN LISTS lines)
    if(line MATCHES "^[0-9a-f]* [TtWw] (.*)$")
      set(name "${CMAKE_MATCH_1}")
      if(name MATCHES "::~")
        continue()
      endif()
      foreach(pattern IN LISTS machinery)
        if(name MATCHES "${pattern}")
          string(APPEND found "\n  ${object}: ${name}")
        endif()
      endforeach()
    endif()
  endforeach()
endforeach()
if(found)
  message(FATAL_ERROR "compiled in the program, not taken from lamina::compiled:${found}")
endif()
list(LENGTH OBJECTS count)
message(STATUS "${count} objects: none of the model's machinery compiled in them")
