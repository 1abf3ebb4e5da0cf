// Reference Poseidon hashes from circomlibjs, for tests/test_poseidon.py.
// stdin: JSON list of input lists (decimal strings); stdout: JSON
//   {"wasm": [...], "reference": [...], "opt": [...]} with one decimal string per input list,
// from circomlibjs's three independent implementations (wasm, textbook JS, optimized JS).
import { buildPoseidon, buildPoseidonReference, buildPoseidonOpt } from "circomlibjs";

async function readStdin() {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    return Buffer.concat(chunks).toString("utf8");
}

const cases = JSON.parse(await readStdin());
const out = {};
for (const [label, build] of [["wasm", buildPoseidon], ["reference", buildPoseidonReference], ["opt", buildPoseidonOpt]]) {
    const h = await build();
    out[label] = cases.map((inputs) => h.F.toString(h(inputs.map((x) => BigInt(x)))));
}
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
