// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title AllotSettlement — escrow and settlement of allot batches.
/// @notice Validators are trusted for liveness and clearing quality, not with funds: every fill is
/// checked against its trader's EIP-712 order signature, limit, the batch's uniform prices and the
/// order's cumulative fill (docs/settlement.md). The payload of a batch is exactly the
/// `abi.encode(BatchSettlement)` documented in packages/protocol/src/settlement.ts, and
/// `resultHash = keccak256(payload)`.
contract AllotSettlement {
    // ---- payload types (packages/protocol/src/settlement.ts) ----
    struct OrderData {
        address trader;
        bytes32 sellAsset;
        bytes32 buyAsset;
        uint256 sellAmount;
        uint256 buyAmount;
        uint8 kind; // 0 sell, 1 buy
        bool partiallyFillable;
        uint64 firstBatch;
        uint64 lastBatch;
        uint256 nonce;
        bytes32 app;
    }

    struct FillData {
        OrderData order;
        uint8 v;
        bytes32 r;
        bytes32 s;
        uint256 sold;
        uint256 bought;
        uint256 fee;
        uint16 sellIndex;
        uint16 buyIndex;
    }

    struct LeaseData {
        address provider;
        address consumer;
        bytes32 resource;
        uint256 quantity;
        bytes32 quoteAsset;
        uint256 payment;
    }

    /// A penalty carries its evidence: the trader's own signed envelope (EIP-712 `SealedOrder`) for
    /// exactly the batch being settled, which the pipeline refused after decision (it unsealed to garbage,
    /// or its trader could not fund it). `orderId` (the envelope's id off chain) is reported, not checked.
    struct PenaltyData {
        address trader;
        bytes32 orderId;
        uint64 batch;
        bytes32 payloadHash;
        uint256 nonce;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    struct BatchSettlement {
        uint64 height;
        uint64 prevHeight;
        uint64 chainRef;
        bytes32 batchHash;
        bytes32[] assets;
        uint256[] prices;
        FillData[] fills;
        LeaseData[] leases;
        PenaltyData[] penalties;
    }

    struct Signature {
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// One certified batch: the payload bytes and ≥ quorum validator signatures over
    /// EIP-712 `BatchResult { height, resultHash }`, sorted by signer address ascending.
    struct CertifiedBatch {
        bytes payload;
        Signature[] signatures;
    }

    struct Withdrawal {
        uint128 amount;
        uint64 requestBlock;
    }

    /// Progress of settlement, one storage slot.
    struct Progress {
        uint64 lastHeight; // last height settled or voided
        uint64 lastChainRef; // highest chainRef of a settled batch
        uint64 lastSettleBlock; // block of the last settlement (deployment block at first)
        uint64 lastEscapeBlock; // block of the last escape-hatch withdrawal (0: never)
    }

    // ---- errors ----
    error Reentrancy();
    error BadConstructorArgs();
    error ZeroAmount();
    error TokenCallFailed(address token);
    error InsufficientBalance(address account, address token);
    error NoPendingWithdrawal();
    error WithdrawalNotClaimable(uint64 requestBlock, uint64 lastChainRef);
    error EscapeNotActive();
    error MalformedPayload();
    error WrongHeight(uint64 height, uint64 prevHeight, uint64 lastHeight);
    error ChainRefOutOfRange(uint64 chainRef);
    error TooFewSignatures(uint256 count, uint256 quorum);
    error BadSignature(uint256 index);
    error NotValidator(address signer);
    error SignersNotAscending(uint256 index);
    error BadAsset(uint256 index);
    error BadPrice(uint256 index);
    error BadFillAssets(uint256 fill);
    error OutsideOrderWindow(uint256 fill);
    error LimitViolated(uint256 fill);
    error BadFee(uint256 fill);
    error OffUniformPrice(uint256 fill);
    error Overfill(uint256 fill);
    error DuplicateOrder(uint256 fill);
    error BadOrderSignature(uint256 fill);
    error AssetNotConserved(uint256 index);
    error BadPenaltyEvidence(uint256 index);
    error EmptyFill(uint256 fill);
    error NotFilledWhole(uint256 fill);
    error HeightTooFar(uint64 height);
    error AmountTooLarge();
    error FillOfInvalidatedOrder(uint256 fill);
    error RatioViolated(uint256 fill);

    // ---- events ----
    event Deposited(address indexed account, address indexed token, uint256 amount);
    event WithdrawalRequested(address indexed account, address indexed token, uint256 amount, uint64 requestBlock);
    event Withdrawn(address indexed account, address indexed token, uint256 amount, bool escape);
    event BatchSettled(uint256 indexed height, bytes32 resultHash);
    event BatchVoided(uint256 indexed height, bytes32 resultHash, uint64 chainRef);
    event LeaseRecorded(
        uint256 indexed height,
        address indexed provider,
        address indexed consumer,
        bytes32 resource,
        uint256 quantity,
        bytes32 quoteAsset,
        uint256 payment
    );
    event OrderInvalidated(address indexed trader, bytes32 indexed orderDigest, uint64 atBlock);
    event OrderPenalized(uint256 indexed height, address indexed trader, bytes32 orderId, uint256 charged);

    // ---- EIP-712 (packages/protocol/src/eip712.ts) ----
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant ORDER_TYPEHASH = keccak256(
        "Order(address trader,bytes32 sellAsset,bytes32 buyAsset,uint256 sellAmount,uint256 buyAmount,uint8 kind,bool partiallyFillable,uint64 firstBatch,uint64 lastBatch,uint256 nonce,bytes32 app)"
    );
    bytes32 private constant BATCH_RESULT_TYPEHASH = keccak256("BatchResult(uint64 height,bytes32 resultHash)");
    bytes32 private constant SEALED_ORDER_TYPEHASH =
        keccak256("SealedOrder(address trader,uint64 batch,bytes32 payloadHash,uint256 nonce)");
    /// How far one `settle` call may move the settled height: heights advance by at most 2³² per call, so
    /// even a dishonest quorum needs 2³² transactions to reach the end of uint64 (where settlement would stop).
    uint64 public constant MAX_HEIGHT_ADVANCE = 2 ** 32;
    /// secp256k1 n/2: signatures with a higher s are malleable twins and refused.
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    uint256 private constant BPS = 10_000;
    /// Words of one encoded FillData (11 order words, v, r, s, sold, bought, fee, sellIndex, buyIndex).
    uint256 private constant FILL_BYTES = 19 * 32;

    bytes32 public immutable DOMAIN_SEPARATOR;
    uint256 public immutable quorum;
    uint256 public immutable feeBps;
    uint256 public immutable escapeBlocks;
    address public immutable bondToken;
    uint256 public immutable invalidOrderFee;
    address public immutable feeAccount;

    address[] private validatorList;
    mapping(address => bool) public isValidator;
    /// Escrow balances: account => token => amount.
    mapping(address => mapping(address => uint256)) public balanceOf;
    mapping(address => mapping(address => Withdrawal)) public pendingWithdrawal;
    /// Cumulative fill of multi-batch orders (by order digest): sold+fee for sell kind, bought for buy kind.
    /// One-shot orders (firstBatch == lastBatch) need no slot: a batch settles once.
    mapping(bytes32 => uint256) public filledAmount;
    /// Cumulative sold+fee of multi-batch buy-kind orders (by order digest): never above the signed sellAmount.
    mapping(bytes32 => uint256) public spentAmount;
    /// Envelopes (by EIP-712 `SealedOrder` digest) already charged a penalty: each pays once, ever.
    mapping(bytes32 => bool) public penalized;
    /// Orders their trader invalidated on chain: trader => order digest => block (0: never). A batch
    /// certified against that block or a later one may not fill the order.
    mapping(address => mapping(bytes32 => uint64)) public invalidatedAt;
    Progress public progress;

    bool private transient locked;

    modifier nonReentrant() {
        if (locked) revert Reentrancy();
        locked = true;
        _;
        locked = false;
    }

    constructor(
        address[] memory validators_,
        uint256 quorum_,
        uint256 feeBps_,
        uint256 escapeBlocks_,
        address bondToken_,
        uint256 invalidOrderFee_,
        address feeAccount_
    ) {
        uint256 n = validators_.length;
        // quorum = 2f+1 of n = 3f+1: require more than two thirds, and feasible.
        if (n == 0 || quorum_ > n || quorum_ * 3 <= n * 2 || feeBps_ >= BPS || escapeBlocks_ == 0) {
            revert BadConstructorArgs();
        }
        if (feeAccount_ == address(0)) revert BadConstructorArgs();
        for (uint256 i = 0; i < n; i++) {
            address v = validators_[i];
            if (v == address(0) || isValidator[v]) revert BadConstructorArgs();
            isValidator[v] = true;
        }
        validatorList = validators_;
        quorum = quorum_;
        feeBps = feeBps_;
        escapeBlocks = escapeBlocks_;
        bondToken = bondToken_;
        invalidOrderFee = invalidOrderFee_;
        feeAccount = feeAccount_;
        DOMAIN_SEPARATOR = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("allot"), keccak256("1"), block.chainid, address(this))
        );
        progress.lastSettleBlock = uint64(block.number);
    }

    function validators() external view returns (address[] memory) {
        return validatorList;
    }

    /// Whether traders may withdraw directly: no batch has settled for `escapeBlocks` blocks.
    function escapeActive() public view returns (bool) {
        return block.number > uint256(progress.lastSettleBlock) + escapeBlocks;
    }

    // ---- funds ----

    /// Escrows `amount` of `token` for the caller. Credits what actually arrived (fee-on-transfer tokens).
    function deposit(address token, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = _tokenBalance(token);
        _safeCall(token, abi.encodeWithSelector(0x23b872dd, msg.sender, address(this), amount)); // transferFrom
        uint256 received = _tokenBalance(token) - before;
        balanceOf[msg.sender][token] += received;
        emit Deposited(msg.sender, token, received);
    }

    /// Asks to withdraw `amount` more of `token`. Paid by `withdraw` once a batch whose chainRef is at or
    /// after this block has settled: every such batch saw the request, so no batch in flight is invalidated.
    function requestWithdrawal(address token, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Withdrawal storage w = pendingWithdrawal[msg.sender][token];
        uint256 total = uint256(w.amount) + amount;
        if (total > type(uint128).max) revert AmountTooLarge();
        if (total > balanceOf[msg.sender][token]) revert InsufficientBalance(msg.sender, token);
        w.amount = uint128(total);
        w.requestBlock = uint64(block.number);
        emit WithdrawalRequested(msg.sender, token, total, uint64(block.number));
    }

    /// Pays the caller's pending withdrawal of `token` (capped at the escrow balance): once a batch whose
    /// chainRef is at or after the request has settled (it saw the request), or — whatever the validators
    /// do — once the request is `escapeBlocks` old or the escape hatch is open. Paid that way, it voids
    /// every batch certified against an earlier block (they may spend the money), as an escape does.
    function withdraw(address token) external nonReentrant {
        Withdrawal memory w = pendingWithdrawal[msg.sender][token];
        if (w.amount == 0) revert NoPendingWithdrawal();
        Progress memory p = progress;
        bool escape = false;
        if (p.lastChainRef < w.requestBlock) {
            bool forced = block.number >= uint256(w.requestBlock) + escapeBlocks;
            if (!forced && !escapeActive()) revert WithdrawalNotClaimable(w.requestBlock, p.lastChainRef);
            escape = true;
        }
        uint256 bal = balanceOf[msg.sender][token];
        uint256 amount = w.amount < bal ? w.amount : bal;
        delete pendingWithdrawal[msg.sender][token];
        balanceOf[msg.sender][token] = bal - amount;
        if (escape) progress.lastEscapeBlock = uint64(block.number);
        _safeCall(token, abi.encodeWithSelector(0xa9059cbb, msg.sender, amount)); // transfer
        emit Withdrawn(msg.sender, token, amount, escape);
    }

    /// Escape hatch: while no batch has settled for `escapeBlocks`, withdraw directly without a request.
    /// Batches certified against a chainRef before this block are voided when submitted.
    function escapeWithdraw(address token, uint256 amount) external nonReentrant {
        if (!escapeActive()) revert EscapeNotActive();
        if (amount == 0) revert ZeroAmount();
        uint256 bal = balanceOf[msg.sender][token];
        if (amount > bal) revert InsufficientBalance(msg.sender, token);
        balanceOf[msg.sender][token] = bal - amount;
        Withdrawal storage w = pendingWithdrawal[msg.sender][token];
        if (w.amount > 0) w.amount = w.amount > amount ? uint128(w.amount - amount) : 0;
        progress.lastEscapeBlock = uint64(block.number);
        _safeCall(token, abi.encodeWithSelector(0xa9059cbb, msg.sender, amount));
        emit Withdrawn(msg.sender, token, amount, true);
    }

    // ---- orders ----

    /// The caller's way out of a resting order (one valid in several batches), whatever the validators do:
    /// from this block on, no batch certified against it or a later block may fill the order (EIP-712 digest
    /// `orderDigest`). Batches certified against earlier blocks still may (decided before the cancel could be
    /// seen). Keyed by the caller, so nobody can invalidate another's order.
    function invalidateOrder(bytes32 orderDigest) external {
        if (invalidatedAt[msg.sender][orderDigest] != 0) return;
        invalidatedAt[msg.sender][orderDigest] = uint64(block.number);
        emit OrderInvalidated(msg.sender, orderDigest, uint64(block.number));
    }

    /// `invalidatedAt` of many orders at once (the validators read it at a batch's chainRef).
    function invalidatedAtMany(address[] calldata traders, bytes32[] calldata digests)
        external
        view
        returns (uint64[] memory out)
    {
        if (traders.length != digests.length) revert MalformedPayload();
        out = new uint64[](digests.length);
        for (uint256 i = 0; i < digests.length; i++) {
            out[i] = invalidatedAt[traders[i]][digests[i]];
        }
    }

    // ---- settlement ----

    /// Settles (or voids) certified batches in order. Any caller may submit a valid certificate.
    function settle(CertifiedBatch[] calldata batches) external nonReentrant {
        uint64 start = progress.lastHeight;
        for (uint256 i = 0; i < batches.length; i++) {
            _settleOne(batches[i].payload, batches[i].signatures, start);
        }
    }

    function _settleOne(bytes calldata payload, Signature[] calldata sigs, uint64 start) private {
        BatchSettlement calldata b = _checkedPayload(payload);
        bytes32 resultHash = _hashCalldata(payload);
        uint64 height = b.height;
        Progress memory p = progress;
        if (height <= p.lastHeight || b.prevHeight != p.lastHeight) {
            revert WrongHeight(height, b.prevHeight, p.lastHeight);
        }
        if (height - start > MAX_HEIGHT_ADVANCE) revert HeightTooFar(height);
        _checkCertificate(height, resultHash, sigs);
        uint64 chainRef = b.chainRef;
        if (chainRef < p.lastEscapeBlock) {
            // Certified against a state an escape withdrawal may have invalidated: void it, so settlement moves on.
            // A void restarts the settle clock: the validators answered, so the hatch closes again and a
            // griefer withdrawing 1 wei after each batch's chainRef cannot keep it open to void them all.
            progress.lastHeight = height;
            progress.lastSettleBlock = uint64(block.number);
            emit BatchVoided(height, resultHash, chainRef);
            return;
        }
        if (chainRef < p.lastChainRef || chainRef > block.number) revert ChainRefOutOfRange(chainRef);
        progress = Progress(height, chainRef, uint64(block.number), p.lastEscapeBlock);

        uint256 nAssets = b.assets.length;
        // Per asset: [0,n) sold, [n,2n) bought, [2n,3n) fees; in memory, settled to the fee account at the end.
        uint256[] memory sums = new uint256[](nAssets * 3);
        _checkAssets(b);
        _applyFills(b, height, sums);
        _settleSums(b, sums);
        _applyPenalties(b.penalties, height);
        _emitLeases(b.leases, height);
        emit BatchSettled(height, resultHash);
    }

    /// Requires the canonical encoding of one `BatchSettlement`, entirely inside `payload`, so that
    /// `keccak256(payload)` covers every byte the contract reads. Returns a calldata pointer to it.
    function _checkedPayload(bytes calldata payload) private pure returns (BatchSettlement calldata b) {
        uint256 base;
        uint256 len = payload.length;
        assembly {
            base := payload.offset
        }
        if (len < 32 * 10) revert MalformedPayload();
        uint256 ok;
        uint256 t = base + 32;
        assembly {
            ok := eq(calldataload(base), 0x20)
            // Tail offsets (relative to the tuple) must be canonical: assets, prices, fills, leases, penalties.
            let off := 0x120
            let sizes := 0
            for { let k := 0 } lt(k, 5) { k := add(k, 1) } {
                ok := and(ok, eq(calldataload(add(t, add(0x80, mul(k, 0x20)))), off))
                if iszero(ok) { break }
                // Bound the length before multiplying (no overflow): at most the payload's length.
                let n := 0
                if iszero(gt(add(off, 0x40), len)) { n := calldataload(add(t, off)) }
                if gt(n, len) { ok := 0 break }
                switch k
                case 2 { sizes := 0x260 } // FillData: 19 words
                case 3 { sizes := 0xc0 } // LeaseData: 6 words
                case 4 { sizes := 0x100 } // PenaltyData: 8 words
                default { sizes := 0x20 }
                off := add(off, add(0x20, mul(n, sizes)))
            }
            ok := and(ok, eq(add(off, 0x20), len))
            b := t
        }
        if (ok == 0) revert MalformedPayload();
    }

    function _hashCalldata(bytes calldata data) private pure returns (bytes32 h) {
        assembly {
            // Scratch copy above the free memory pointer; not kept, so batches in one call reuse it.
            let ptr := mload(0x40)
            calldatacopy(ptr, data.offset, data.length)
            h := keccak256(ptr, data.length)
        }
    }

    function _checkCertificate(uint64 height, bytes32 resultHash, Signature[] calldata sigs) private view {
        uint256 n = sigs.length;
        if (n < quorum) revert TooFewSignatures(n, quorum);
        bytes32 digest = _typedDigest(keccak256(abi.encode(BATCH_RESULT_TYPEHASH, height, resultHash)));
        address last = address(0);
        for (uint256 i = 0; i < n; i++) {
            Signature calldata s = sigs[i];
            address signer = _recover(digest, s.v, s.r, s.s);
            if (signer == address(0)) revert BadSignature(i);
            if (!isValidator[signer]) revert NotValidator(signer);
            // Strictly ascending signers: distinct without a set.
            if (signer <= last) revert SignersNotAscending(i);
            last = signer;
        }
    }

    function _typedDigest(bytes32 structHash) private view returns (bytes32 d) {
        bytes32 sep = DOMAIN_SEPARATOR;
        assembly {
            let ptr := mload(0x40)
            mstore(ptr, 0x1901000000000000000000000000000000000000000000000000000000000000)
            mstore(add(ptr, 0x02), sep)
            mstore(add(ptr, 0x22), structHash)
            d := keccak256(ptr, 0x42)
        }
    }

    /// ecrecover that refuses malleable (high) s and bad v; returns address(0) when it does not recover.
    function _recover(bytes32 digest, uint8 v, bytes32 r, bytes32 s) private pure returns (address) {
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) return address(0);
        return ecrecover(digest, v, r, s);
    }

    /// Assets ascend strictly; each is a token (top 12 bytes zero) or a resource class (top byte 0x01);
    /// prices are positive.
    function _checkAssets(BatchSettlement calldata b) private pure {
        uint256 n = b.assets.length;
        if (b.prices.length != n) revert MalformedPayload();
        bytes32 prev = bytes32(0);
        for (uint256 i = 0; i < n; i++) {
            bytes32 a = b.assets[i];
            if (i > 0 && a <= prev) revert BadAsset(i);
            if (uint256(a) >> 160 != 0 && uint8(uint256(a) >> 248) != 1) revert BadAsset(i);
            if (uint256(a) == 0) revert BadAsset(i);
            if (b.prices[i] == 0) revert BadPrice(i);
            prev = a;
        }
    }

    /// Checks every fill against what its trader signed; credits buys, then debits sells (net per account and
    /// token: a trader's buy in this batch may fund its sell), accumulating per-asset sums.
    function _applyFills(BatchSettlement calldata b, uint64 height, uint256[] memory sums) private {
        FillData[] calldata fills = b.fills;
        uint256 nFills = fills.length;
        uint256 nAssets = b.assets.length;
        for (uint256 i = 0; i < nFills; i++) {
            FillData calldata f = fills[i];
            _checkFill(b, f, height, i);
            uint256 bi = f.buyIndex;
            uint256 bought = f.bought;
            sums[nAssets + bi] += bought;
            bytes32 buyAsset = b.assets[bi];
            if (uint256(buyAsset) >> 160 == 0 && bought != 0) {
                balanceOf[f.order.trader][address(uint160(uint256(buyAsset)))] += bought;
            }
        }
        for (uint256 i = 0; i < nFills; i++) {
            FillData calldata f = fills[i];
            uint256 si = f.sellIndex;
            uint256 sold = f.sold;
            uint256 fee = f.fee;
            sums[si] += sold;
            sums[2 * nAssets + si] += fee;
            bytes32 sellAsset = b.assets[si];
            uint256 debit = sold + fee;
            if (uint256(sellAsset) >> 160 == 0 && debit != 0) {
                address trader = f.order.trader;
                address token = address(uint160(uint256(sellAsset)));
                uint256 bal = balanceOf[trader][token];
                if (bal < debit) revert InsufficientBalance(trader, token);
                unchecked {
                    balanceOf[trader][token] = bal - debit;
                }
            }
        }
    }

    function _checkFill(BatchSettlement calldata b, FillData calldata f, uint64 height, uint256 i) private {
        OrderData calldata o = f.order;
        uint256 si = f.sellIndex;
        uint256 bi = f.buyIndex;
        uint256 nAssets = b.assets.length;
        if (si >= nAssets || bi >= nAssets || o.sellAsset != b.assets[si] || o.buyAsset != b.assets[bi]) {
            revert BadFillAssets(i);
        }
        if (height < o.firstBatch || height > o.lastBatch) revert OutsideOrderWindow(i);
        uint256 pSell = b.prices[si];
        uint256 pBuy = b.prices[bi];
        // Limit with fee (settlement.ts): sellAmount·p[sell]·10⁴ ≥ buyAmount·p[buy]·(10⁴+feeBps).
        if (o.sellAmount * pSell * BPS < o.buyAmount * pBuy * (BPS + feeBps)) revert LimitViolated(i);
        uint256 sold = f.sold;
        uint256 bought = f.bought;
        uint256 fee = f.fee;
        // A fill moves something both ways: never a sale for nothing (nor an empty entry).
        if (sold == 0 || bought == 0) revert EmptyFill(i);
        if (fee != _feeOf(sold)) revert BadFee(i);
        uint256 filled;
        uint256 cap;
        if (o.kind == 0) {
            // Sell kind: bought = floor(sold·p[sell]/p[buy]); cumulative sold+fee ≤ sellAmount.
            if (bought != (sold * pSell) / pBuy) revert OffUniformPrice(i);
            filled = sold + fee;
            cap = o.sellAmount;
        } else if (o.kind == 1) {
            // Buy kind: sold = ceil(bought·p[buy]/p[sell]); cumulative bought ≤ buyAmount.
            if (sold != (bought * pBuy + pSell - 1) / pSell) revert OffUniformPrice(i);
            filled = bought;
            cap = o.buyAmount;
        } else {
            revert BadFillAssets(i);
        }
        // The trader's signed ratio, per fill, after rounding and with the fee: bought/(sold + fee) ≥
        // buyAmount/sellAmount. The limit above holds at the price level only; the floor of bought and the
        // ceilings of sold and fee could otherwise leave a marginal order a unit short (issue 19, point 2).
        if (bought * o.sellAmount < (sold + fee) * o.buyAmount) revert RatioViolated(i);
        bytes32 digest = _orderDigest(o);
        address signer = _recover(digest, f.v, f.r, f.s);
        if (signer == address(0) || signer != o.trader) revert BadOrderSignature(i);
        // An order valid in several batches may have been invalidated by its trader (a one-shot order is
        // cancelled off chain before its batch is decided: no storage read for it).
        if (o.firstBatch != o.lastBatch) {
            uint64 cancelled = invalidatedAt[o.trader][digest];
            if (cancelled != 0 && b.chainRef >= cancelled) revert FillOfInvalidatedOrder(i);
        }
        // Every order at most once per batch, whatever its window (transient storage keyed by order and
        // height: a multi-batch order may fill in several batches settled by one call).
        {
            uint256 seen;
            bytes32 key = digest ^ bytes32(uint256(height));
            assembly {
                seen := tload(key)
                tstore(key, 1)
            }
            if (seen != 0) revert DuplicateOrder(i);
        }
        // A buy-kind order never pays more than it signed, fee included (its cap above counts bought).
        uint256 spent = sold + fee;
        if (o.firstBatch == o.lastBatch) {
            // One-shot: valid in one batch only, which settles once, and once in it: the fill is the whole story.
            if (filled > cap || spent > o.sellAmount) revert Overfill(i);
            if (!o.partiallyFillable) _requireWhole(o, sold, bought, i);
        } else {
            uint256 before = filledAmount[digest];
            uint256 total = before + filled;
            if (total > cap) revert Overfill(i);
            filledAmount[digest] = total;
            if (o.kind == 1) {
                uint256 spentTotal = spentAmount[digest] + spent;
                if (spentTotal > o.sellAmount) revert Overfill(i);
                spentAmount[digest] = spentTotal;
            }
            // Fill-or-kill across its window: one fill, of the whole order.
            if (!o.partiallyFillable) {
                if (before != 0) revert NotFilledWhole(i);
                _requireWhole(o, sold, bought, i);
            }
        }
    }

    /// ceil(sold·feeBps/10⁴): the protocol fee on a fill, in the sell asset, on top of `sold`.
    function _feeOf(uint256 sold) private view returns (uint256) {
        return (sold * feeBps + BPS - 1) / BPS;
    }

    /// A fill-or-kill order is filled whole: buy kind buys exactly `buyAmount`; sell kind sells the most
    /// that fits in `sellAmount` with its fee (sold + fee ≤ sellAmount, and one more unit would not fit).
    function _requireWhole(OrderData calldata o, uint256 sold, uint256 bought, uint256 i) private view {
        if (o.kind == 1) {
            if (bought != o.buyAmount) revert NotFilledWhole(i);
        } else if (sold + 1 + _feeOf(sold + 1) <= o.sellAmount) {
            revert NotFilledWhole(i);
        }
    }

    /// EIP-712 digest of an order, hashing its 11 calldata words in place (their values were validated on read).
    function _orderDigest(OrderData calldata o) private view returns (bytes32) {
        bytes32 structHash;
        bytes32 th = ORDER_TYPEHASH;
        assembly {
            let ptr := mload(0x40)
            mstore(ptr, th)
            calldatacopy(add(ptr, 0x20), o, 0x160)
            structHash := keccak256(ptr, 0x180)
        }
        return _typedDigest(structHash);
    }

    /// Per asset, Σ bought ≤ Σ sold; fees and rounding dust of tokens go to the fee account.
    function _settleSums(BatchSettlement calldata b, uint256[] memory sums) private {
        uint256 n = b.assets.length;
        for (uint256 i = 0; i < n; i++) {
            uint256 sold = sums[i];
            uint256 bought = sums[n + i];
            if (bought > sold) revert AssetNotConserved(i);
            bytes32 a = b.assets[i];
            uint256 toFees = sold - bought + sums[2 * n + i];
            if (uint256(a) >> 160 == 0 && toFees != 0) {
                balanceOf[feeAccount][address(uint160(uint256(a)))] += toFees;
            }
        }
    }

    /// Charges `invalidOrderFee` (capped at what is there) for each penalty whose evidence holds: the
    /// trader's own `SealedOrder` signature over an envelope of exactly this height. Evidence that does not
    /// hold reverts (only a dishonest quorum signs it); an envelope already charged is passed over without
    /// a charge (a repeat never reverts, so it cannot jam a certified batch). A trader may pay for several
    /// envelopes of one batch: each is its own signed statement.
    function _applyPenalties(PenaltyData[] calldata penalties, uint64 height) private {
        uint256 n = penalties.length;
        if (n == 0) return;
        uint256 total = 0;
        for (uint256 i = 0; i < n; i++) {
            PenaltyData calldata p = penalties[i];
            address trader = p.trader;
            if (p.batch != height) revert BadPenaltyEvidence(i);
            bytes32 digest = _typedDigest(
                keccak256(abi.encode(SEALED_ORDER_TYPEHASH, trader, p.batch, p.payloadHash, p.nonce))
            );
            address signer = _recover(digest, p.v, p.r, p.s);
            if (signer == address(0) || signer != trader) revert BadPenaltyEvidence(i);
            if (penalized[digest]) continue;
            penalized[digest] = true;
            uint256 bal = balanceOf[trader][bondToken];
            uint256 charge = bal < invalidOrderFee ? bal : invalidOrderFee;
            balanceOf[trader][bondToken] = bal - charge;
            total += charge;
            emit OrderPenalized(height, trader, p.orderId, charge);
        }
        balanceOf[feeAccount][bondToken] += total;
    }

    function _emitLeases(LeaseData[] calldata leases, uint64 height) private {
        for (uint256 i = 0; i < leases.length; i++) {
            LeaseData calldata l = leases[i];
            emit LeaseRecorded(height, l.provider, l.consumer, l.resource, l.quantity, l.quoteAsset, l.payment);
        }
    }

    // ---- tokens ----

    function _tokenBalance(address token) private view returns (uint256) {
        (bool ok, bytes memory ret) = token.staticcall(abi.encodeWithSelector(0x70a08231, address(this)));
        if (!ok || ret.length < 32) revert TokenCallFailed(token);
        return abi.decode(ret, (uint256));
    }

    /// Calls a token; succeeds when the call does and it returns nothing or `true` (tokens without a bool).
    function _safeCall(address token, bytes memory data) private {
        if (token.code.length == 0) revert TokenCallFailed(token);
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || (ret.length != 0 && (ret.length < 32 || !abi.decode(ret, (bool))))) revert TokenCallFailed(token);
    }
}
