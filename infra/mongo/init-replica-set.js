// Initiate the single-member replica set "rs0" once; safe to run any number of times.
// docker-compose.yml runs it from the mongo healthcheck:  mongosh --quiet /init/init-replica-set.js
// Transactions and change streams need a replica set, so even a single node runs as one.

const config = {
  _id: "rs0",
  members: [{ _id: 0, host: "mongo:27017" }],
};

try {
  rs.status(); // throws NotYetInitialized (code 94) until rs.initiate has run
} catch (err) {
  if (err.codeName !== "NotYetInitialized" && err.code !== 94) {
    throw err;
  }
  try {
    rs.initiate(config);
    print("replica set rs0 initiated");
  } catch (initErr) {
    // A concurrent run got there first: nothing to do.
    if (initErr.codeName !== "AlreadyInitialized" && initErr.code !== 23) {
      throw initErr;
    }
  }
}
