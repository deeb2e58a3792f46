// Runs SQL statements against an in-memory DuckDB and prints their results
// as JSON: the statements come as a JSON array of strings on stdin, the
// output is one JSON array (per statement) of row objects. Used by
// internal/eventlog's DuckDB tests; relative file names in the SQL resolve
// against the working directory.
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const statements = JSON.parse(input);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const out = [];
  for (const sql of statements) {
    const reader = await conn.runAndReadAll(sql);
    out.push(reader.getRowObjectsJson());
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
