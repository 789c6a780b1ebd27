"""``prefetch(table, row, col)``: a software prefetch of ``table[row, col]``'s cache line, callable from numba.

The SGD kernels are bound by memory latency (every sample reads rows of the vertex and context tables at
random); prefetching the rows of a sample a few samples ahead hides most of it (training speed against the
peers: ``benchmarks/RESULTS.md``).
Lowered to LLVM's ``llvm.prefetch`` (read, high locality, data cache); a no-op where the target lacks it.
"""

from __future__ import annotations

from llvmlite import binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_NAME = "llvm.prefetch.p0" if llvm.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"


@intrinsic
def prefetch(typingctx, table, row, col):
    """Prefetch the cache line holding ``table[row, col]`` (2-D array, integer indices)."""
    if not isinstance(table, types.Array) or table.ndim != 2:
        return None
    sig = types.void(table, row, col)

    def codegen(context, builder, signature, args):
        table_type, row_type, col_type = signature.args
        array = context.make_array(table_type)(context, builder, args[0])
        indices = [context.cast(builder, args[1], row_type, types.intp),
                   context.cast(builder, args[2], col_type, types.intp)]
        pointer = cgutils.get_item_pointer(context, builder, table_type, array, indices)
        byte_pointer = ir.IntType(8).as_pointer()
        function_type = ir.FunctionType(ir.VoidType(), [byte_pointer, ir.IntType(32), ir.IntType(32),
                                                        ir.IntType(32)])
        function = cgutils.get_or_insert_function(builder.module, function_type, _NAME)
        i32 = ir.IntType(32)
        builder.call(function, [builder.bitcast(pointer, byte_pointer), ir.Constant(i32, 0), ir.Constant(i32, 3),
                                ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen
